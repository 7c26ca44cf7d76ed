import { HttpException } from '@nestjs/common';

/** OpenAI's error body: what its SDKs parse into `APIError.message/type/param/code`. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error with an HTTP status that the exception filter renders in OpenAI's shape. */
export class ApiError extends HttpException {
  constructor(
    status: number,
    message: string,
    readonly type: string = defaultErrorType(status),
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message, status);
  }

  /** Headers the response carries with this error (`Retry-After`, `x-ratelimit-*`). */
  responseHeaders: Record<string, string> = {};

  withHeaders(headers: Record<string, string>): this {
    this.responseHeaders = { ...this.responseHeaders, ...headers };
    return this;
  }

  toBody(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 naming the offending field (`param`), like OpenAI's own validation errors. */
export class InvalidRequestError extends ApiError {
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(400, message, 'invalid_request_error', param, code);
  }
}

export function defaultErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
