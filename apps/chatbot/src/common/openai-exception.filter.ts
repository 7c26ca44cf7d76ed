import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { defaultErrorType, HttpStatusError, setResponseHeaders } from '@llm-cache/redis-cache';
import type { HttpRequest as Request } from './http.types.js';
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

/** Fastify's content-type parser errors → the body-parser type of the same mistake (one `code` on both platforms). */
const FASTIFY_PARSER_ERRORS: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'entity.too.large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'entity.parse.failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'entity.parse.failed',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'request.size.invalid',
};

/** Express hands a filter the Node response; Fastify a reply whose Node response is `.raw`. */
interface PlatformResponse {
  headersSent?: boolean;
  writableEnded?: boolean;
  end?(): void;
  raw?: { headersSent?: boolean; writableEnded?: boolean; writableFinished?: boolean; end(): void };
  status(code: number): PlatformResponse;
  json?(body: unknown): unknown;
  send?(body: unknown): unknown;
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
}

/**
 * Every error leaves the app in OpenAI's error shape `{ error: { message, type, param, code } }`, so the official
 * SDKs surface it as a typed `APIError`. Only unexpected errors are 500s, with a generic message and a logged stack.
 */
@Catch()
export class OpenAiExceptionFilter implements ExceptionFilter {
  protected readonly logger = new Logger('OpenAiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<PlatformResponse>();
    const req = ctx.getRequest<Request>();
    const { status, body } = this.toErrorResponse(exception, req);
    const node = res.raw ?? res;
    if (node.headersSent) {
      // A stream already started: the status is gone, the best we can do is end it.
      if (!node.writableEnded) node.end?.();
      return;
    }
    setResponseHeaders(res, responseHeadersOf(exception));
    const reply = res.status(status);
    // Express's `json`, Fastify's `send` (which serializes an object as JSON).
    if (typeof reply.json === 'function') reply.json(body);
    else reply.send?.(body);
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
          ? `Unknown route: ${req.method} ${pathOf(req)}`
          : typeof response === 'string'
            ? response
            : (messageOf(response) ?? exception.message);
      if (status >= 500)
        this.logger.error(`${req.method} ${pathOf(req)}: ${exception.message}`, exception.stack);
      return error(status, message, defaultErrorType(status));
    }
    const parserError = this.bodyParserError(exception);
    if (parserError) return parserError;
    this.logger.error(
      `${req.method} ${pathOf(req)}: unexpected ${(exception as Error)?.name ?? typeof exception}`,
      (exception as Error)?.stack ?? String(exception),
    );
    return error(500, 'The server had an error while processing your request.', 'server_error');
  }

  private bodyParserError(exception: unknown): { status: number; body: OpenAiErrorBody } | undefined {
    const err = exception as {
      type?: unknown;
      status?: unknown;
      statusCode?: unknown;
      code?: unknown;
      expose?: unknown;
      message?: unknown;
    };
    if (!err || typeof err !== 'object') return undefined;
    const known = typeof err.type === 'string' ? BODY_PARSER_ERRORS[err.type] : undefined;
    if (known) {
      return error(known.status, known.message(err), 'invalid_request_error', null, String(err.type));
    }
    const fastifyType = typeof err.code === 'string' ? FASTIFY_PARSER_ERRORS[err.code] : undefined;
    if (fastifyType && typeof err.statusCode === 'number') {
      return error(err.statusCode, String(err.message), 'invalid_request_error', null, fastifyType);
    }
    // Fastify's other client errors (unsupported media type, …): 4xx codes it raised before any handler ran.
    if (
      typeof err.code === 'string' &&
      err.code.startsWith('FST_ERR_') &&
      typeof err.statusCode === 'number' &&
      err.statusCode >= 400 &&
      err.statusCode < 500
    ) {
      return error(err.statusCode, String(err.message), defaultErrorType(err.statusCode));
    }
    // Other http-errors raised by Express middleware that are safe to show (4xx with `expose`).
    if (typeof err.status === 'number' && err.status >= 400 && err.status < 500 && err.expose === true) {
      return error(err.status, String(err.message), defaultErrorType(err.status));
    }
    return undefined;
  }

  private isRouted(req: Request): boolean {
    // Express sets `route` on a matched request; Fastify flags its not-found handler's request with `is404`.
    const r = req as Request & { route?: unknown; is404?: boolean; routeOptions?: unknown };
    return r.routeOptions !== undefined ? r.is404 !== true : Boolean(r.route);
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

/** Express's `req.path`; Fastify's request has only `url` (with the query). */
function pathOf(req: Request): string {
  return req.path ?? String(req.url ?? '').split('?')[0];
}

function messageOf(response: unknown): string | undefined {
  const message = (response as { message?: unknown })?.message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : undefined;
}
