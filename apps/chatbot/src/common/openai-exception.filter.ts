import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { defaultErrorType, HttpStatusError } from '@llm-cache/redis-cache';
import type { HttpRequest as Request, HttpResponse as Response } from './http.types.js';
import type { OpenAiErrorBody } from './api-error.js';

/** body-parser's error `type`s → what the client did wrong. */
const BODY_PARSER_ERRORS: Record<string, { status: number; message: (err: any) => string }> = {
  'entity.parse.failed': {
    status: 400,
    message: (err) => `We could not parse the JSON body of your request: ${String(err.message)}`,
  },
  'entity.too.large': {
    status: 413,
    message: (err) =>
      `Request body too large: ${err.length ?? 'more than'} bytes, limit is ${err.limit} bytes`,
  },
  'encoding.unsupported': { status: 415, message: (err) => String(err.message) },
  'charset.unsupported': { status: 415, message: (err) => String(err.message) },
  'request.aborted': { status: 400, message: () => 'request aborted while the body was being read' },
  'request.size.invalid': { status: 400, message: () => 'request size did not match Content-Length' },
};

/**
 * Every error leaves the app in OpenAI's error shape `{ error: { message, type, param, code } }`, so the official
 * SDKs surface it as a typed `APIError`. Only unexpected errors are 500s, with a generic message and a logged stack.
 */
@Catch()
export class OpenAiExceptionFilter implements ExceptionFilter {
  protected readonly logger = new Logger('OpenAiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const { status, body } = this.toErrorResponse(exception, req);
    if (res.headersSent) {
      // A stream already started: the status is gone, the best we can do is end it.
      if (!res.writableEnded) res.end();
      return;
    }
    for (const [name, value] of Object.entries(responseHeadersOf(exception))) res.setHeader(name, value);
    res.status(status).json(body);
  }

  /** Maps an exception to a status and an OpenAI error body. Override to add app-specific errors. */
  protected toErrorResponse(exception: unknown, req: Request): { status: number; body: OpenAiErrorBody } {
    // The app's own errors and every error of the packages share one base class and one body.
    if (exception instanceof HttpStatusError) return { status: exception.status, body: exception.toJSON() };
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        status === 404 && !this.isRouted(req)
          ? `Unknown route: ${req.method} ${req.path}`
          : typeof response === 'string'
            ? response
            : (messageOf(response) ?? exception.message);
      if (status >= 500)
        this.logger.error(`${req.method} ${req.path}: ${exception.message}`, exception.stack);
      return error(status, message, defaultErrorType(status));
    }
    const parserError = this.bodyParserError(exception);
    if (parserError) return parserError;
    this.logger.error(
      `${req.method} ${req.path}: unexpected ${(exception as Error)?.name ?? typeof exception}`,
      (exception as Error)?.stack ?? String(exception),
    );
    return error(500, 'The server had an error while processing your request.', 'server_error');
  }

  private bodyParserError(exception: unknown): { status: number; body: OpenAiErrorBody } | undefined {
    const err = exception as { type?: unknown; status?: unknown; expose?: unknown; message?: unknown };
    if (!err || typeof err !== 'object') return undefined;
    const known = typeof err.type === 'string' ? BODY_PARSER_ERRORS[err.type] : undefined;
    if (known) {
      return error(known.status, known.message(err), 'invalid_request_error', null, String(err.type));
    }
    // Other http-errors raised by Express middleware that are safe to show (4xx with `expose`).
    if (typeof err.status === 'number' && err.status >= 400 && err.status < 500 && err.expose === true) {
      return error(err.status, String(err.message), defaultErrorType(err.status));
    }
    return undefined;
  }

  private isRouted(req: Request): boolean {
    return Boolean((req as Request & { route?: unknown }).route);
  }
}

function error(
  status: number,
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): { status: number; body: OpenAiErrorBody } {
  return { status, body: { error: { message, type, param, code } } };
}

/** Rate limits attach `Retry-After` / `x-ratelimit-*` to their error (ApiError or a provider-side budget error). */
function responseHeadersOf(exception: unknown): Record<string, string> {
  const headers = (exception as { responseHeaders?: unknown } | null)?.responseHeaders;
  return typeof headers === 'object' && headers !== null ? (headers as Record<string, string>) : {};
}

function messageOf(response: unknown): string | undefined {
  const message = (response as { message?: unknown })?.message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : undefined;
}
