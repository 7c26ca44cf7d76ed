import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
  Optional,
} from '@nestjs/common';
import {
  defaultErrorType,
  HttpStatusError,
  RedisUnavailableError,
  setResponseHeaders,
} from '@llm-cache/redis-cache';
import type { HttpRequest as Request } from './http.types.js';
import type { OpenAiErrorBody } from './api-error.js';
import { bodyParseFailure } from './body-parse-errors.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';

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

  // Optional so the filter also works when constructed by hand (unit specs); the app always provides the config.
  constructor(@Optional() @InjectChatbotConfig() private readonly config?: ChatbotConfig) {}

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
    // Before HttpException: Nest's Express adapter wraps body-parser errors in one, with generic texts.
    // Fastify's too-large error does not carry the limit (body-parser's does): the configured one fills it in.
    const parseFailure = bodyParseFailure(exception, {
      contentLength: req.headers?.['content-length'],
      limitBytes: this.config?.bodyLimitBytes,
    });
    if (parseFailure) {
      return error(
        parseFailure.status,
        parseFailure.message,
        'invalid_request_error',
        null,
        parseFailure.code,
      );
    }
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
    if (exception instanceof RedisUnavailableError) {
      // Only admin paths ask Redis strictly (the request path fails open): say why, and what was done anyway.
      const done = exception.deletedBeforeFailure
        ? ` (${exception.deletedBeforeFailure} keys deleted before)`
        : '';
      return error(503, `${exception.message}${done}`, 'server_error', null, 'redis_unavailable');
    }
    const exposed = this.exposedHttpError(exception);
    if (exposed) return exposed;
    this.logger.error(
      `${req.method} ${pathOf(req)}: unexpected ${(exception as Error)?.name ?? typeof exception}`,
      (exception as Error)?.stack ?? String(exception),
    );
    return error(500, 'The server had an error while processing your request.', 'server_error');
  }

  private exposedHttpError(exception: unknown): { status: number; body: OpenAiErrorBody } | undefined {
    const err = exception as { type?: unknown; status?: unknown; expose?: unknown; message?: unknown };
    if (!err || typeof err !== 'object') return undefined;
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
