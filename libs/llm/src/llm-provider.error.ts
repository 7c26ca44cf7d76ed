import { HttpStatusError } from '@llm-cache/redis-cache';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';

/** Statuses a provider failure is reported with; anything else upstream collapses into one of these. */
export type LlmProviderErrorStatus = 400 | 401 | 403 | 404 | 408 | 413 | 422 | 429 | 500 | 502 | 503 | 504;

/**
 * A failed provider call, shaped like an OpenAI error body so an app can return it as is. Upstream 4xx keep their
 * status (the caller's request was wrong), except 401/403: those reject the *server's* own upstream credentials, so
 * they become 502 `upstream_auth_failed` (a 401 would tell the caller their key is wrong). Upstream 5xx become 502
 * (the gateway is fine, its upstream is not); connection failures 502; timeouts 504; a caller abort 408.
 */
export class LlmProviderError extends HttpStatusError {
  override readonly name = 'LlmProviderError';
  declare readonly status: LlmProviderErrorStatus;

  constructor(
    message: string,
    init: {
      status: LlmProviderErrorStatus;
      type?: string;
      code?: string | null;
      param?: string | null;
      cause?: unknown;
    },
  ) {
    super(message, { ...init, type: init.type ?? defaultType(init.status) });
  }
}

/** The caller gave up (a client disconnect, an aborted signal): 408, and never a cached answer. */
export function callerAborted(message = 'request aborted by the caller', cause?: unknown): LlmProviderError {
  return new LlmProviderError(message, { status: 408, type: 'aborted', cause });
}

// 401 and 403 are handled above: they are about the server's credentials, not the caller's request.
const PASS_THROUGH = new Set([400, 404, 408, 413, 422, 429]);

/** Maps anything a provider call can throw (SDK errors, fetch errors, aborts) to an `LlmProviderError`. */
export function toLlmProviderError(err: unknown): LlmProviderError {
  if (err instanceof LlmProviderError) return err;
  if (err instanceof APIUserAbortError) return callerAborted(undefined, err);
  if (err instanceof APIConnectionTimeoutError) {
    return new LlmProviderError('upstream timed out', {
      status: 504,
      type: 'timeout',
      code: 'upstream_timeout',
      cause: err,
    });
  }
  if (err instanceof APIConnectionError) {
    return new LlmProviderError(`upstream unreachable: ${err.message}`, {
      status: 502,
      type: 'upstream_error',
      code: 'upstream_unreachable',
      cause: err,
    });
  }
  if (err instanceof APIError && (err.status === 401 || err.status === 403)) {
    // The upstream's message may name the key it rejected ("Incorrect API key provided: sk-…"): not passed on.
    return new LlmProviderError(
      `the LLM provider rejected this server's credentials (upstream ${err.status}); the operator must check LLM_API_KEY`,
      { status: 502, type: 'upstream_error', code: 'upstream_auth_failed', cause: err },
    );
  }
  if (err instanceof APIError) {
    const body = (err.error ?? {}) as {
      message?: string;
      type?: string;
      code?: string | null;
      param?: string | null;
    };
    const upstream = err.status;
    const status: LlmProviderErrorStatus =
      upstream !== undefined && PASS_THROUGH.has(upstream)
        ? (upstream as LlmProviderErrorStatus)
        : upstream === 504
          ? 504
          : 502;
    const message = body.message ?? err.message;
    return new LlmProviderError(
      status === 502 && upstream ? `upstream error ${upstream}: ${message}` : message,
      {
        status,
        type: body.type ?? (status === 502 ? 'upstream_error' : undefined),
        code: body.code === undefined || body.code === null ? null : String(body.code),
        param: body.param ?? null,
        cause: err,
      },
    );
  }
  if (err instanceof Error && err.name === 'AbortError') return callerAborted(undefined, err);
  const message = err instanceof Error ? err.message : String(err);
  return new LlmProviderError(`upstream failed: ${message}`, {
    status: 502,
    type: 'upstream_error',
    cause: err,
  });
}

function defaultType(status: number): string {
  if (status === 429) return 'rate_limit_exceeded';
  if (status === 401 || status === 403) return 'authentication_error';
  if (status >= 500) return 'upstream_error';
  return 'invalid_request_error';
}
