/**
 * The JSON error body every error of this toolkit renders to: OpenAI's shape, which its SDKs (and most
 * OpenAI-compatible clients) parse into `APIError.message/type/param/code`.
 */
export interface HttpErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface HttpStatusErrorInit {
  /** HTTP status to answer with (4xx: the caller's fault; 5xx: ours or an upstream's). */
  status: number;
  /** Machine-readable category, e.g. `invalid_request_error`; defaults from the status. */
  type?: string;
  /** The request field or directive at fault, e.g. `messages[0].content` or `max-age`. */
  param?: string | null;
  /** A finer machine-readable reason, e.g. `only_if_cached`. */
  code?: string | null;
  cause?: unknown;
}

/**
 * Base class of every error the packages throw at an HTTP caller: one place for the status and the fields of the
 * error body, so an exception filter renders all of them with `toJSON()` instead of knowing each subclass. Plain
 * `Error` (not Nest's `HttpException`) because the libraries also run outside HTTP (a service called from a job).
 */
export class HttpStatusError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;

  constructor(message: string, init: HttpStatusErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.type = init.type ?? defaultErrorType(init.status);
    this.param = init.param ?? null;
    this.code = init.code ?? null;
  }

  /** The error body for this error (also what `JSON.stringify` writes). */
  toJSON(): HttpErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** OpenAI's error `type` for a status, used when an error names none. */
export function defaultErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
