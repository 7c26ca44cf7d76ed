import { HttpStatusError, type HttpErrorBody } from '@llm-cache/redis-cache';

/** OpenAI's error body: what its SDKs parse into `APIError.message/type/param/code`. */
export type OpenAiErrorBody = HttpErrorBody;

/** An error of the app itself (auth, admin input) that the exception filter renders in OpenAI's shape. */
export class ApiError extends HttpStatusError {
  constructor(
    status: number,
    message: string,
    type?: string,
    param: string | null = null,
    code: string | null = null,
  ) {
    super(message, { status, type, param, code });
  }

  /** Headers the response carries with this error (`Retry-After`, `x-ratelimit-*`). */
  responseHeaders: Record<string, string> = {};

  withHeaders(headers: Record<string, string>): this {
    this.responseHeaders = { ...this.responseHeaders, ...headers };
    return this;
  }
}

/** A 400 naming the offending field (`param`), like OpenAI's own validation errors. */
export class InvalidRequestError extends ApiError {
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(400, message, 'invalid_request_error', param, code);
  }
}
