import { HttpStatusError } from './http-status.error.js';

/**
 * Redis could not be asked (not connected, the circuit breaker is open, a command failed or timed out). Thrown only
 * by the calls that must tell "unavailable" apart from an empty answer (`deleteByPattern()`, and `readCounters()` /
 * `getCacheInfo()` with `{ requireRedis: true }`), so an admin endpoint can answer 503 instead of `{"deleted":0}`.
 * The request path never sees it: every other call fails open.
 */
export class RedisUnavailableError extends HttpStatusError {
  override readonly name = 'RedisUnavailableError';
  constructor(
    /** Why, in a few words with the classified cause, e.g. `WRONGPASS: invalid username-password pair`. */
    readonly reason: string,
    /** What was already done before Redis failed (keys deleted by a pattern delete), so nothing is under-reported. */
    readonly deletedBeforeFailure = 0,
    options?: { cause?: unknown },
  ) {
    // 503 with OpenAI's error shape, so an app's filter for HttpStatusError answers it without a case of its own.
    super(`Redis unavailable: ${reason}`, {
      status: 503,
      type: 'server_error',
      code: 'redis_unavailable',
      cause: options?.cause,
    });
  }
}

/** The outcome of a pattern delete: `complete: false` when its deadline stopped the scan (`deleted` is the count so far). */
export interface DeleteByPatternResult {
  deleted: number;
  complete: boolean;
}

/**
 * A short, stable name for why a Redis call or connection failed, for logs an operator can grep: the server's
 * error prefix (WRONGPASS, NOAUTH, READONLY, LOADING, …), `DNS` for a name that does not resolve, `TLS` for a
 * handshake or certificate failure, the socket error code otherwise (ECONNREFUSED, ETIMEDOUT), `TIMEOUT` for our own
 * deadline, `UNKNOWN` when nothing tells.
 */
export function classifyRedisError(err: unknown): string {
  const e = (err ?? {}) as { message?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const code = typeof e.code === 'string' ? e.code : '';
  const reply = /^([A-Z]{3,})\s/.exec(message);
  if (reply && SERVER_REPLIES.has(reply[1])) return reply[1];
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /getaddrinfo/i.test(message)) return 'DNS';
  if (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    TLS_CODES.has(code) ||
    /\b(SSL|TLS)\b|certificate|self[- ]signed/i.test(message)
  )
    return 'TLS';
  if (/^E[A-Z]+$/.test(code)) return code;
  if (/timed out|timeout/i.test(message)) return 'TIMEOUT';
  if (/max retries|Stream isn't writeable|Connection is closed/i.test(message)) return 'DISCONNECTED';
  return 'UNKNOWN';
}

/** `CAUSE: message`, the form every Redis failure is logged in. */
export function describeRedisError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `${classifyRedisError(err)}: ${message}`;
}

const SERVER_REPLIES = new Set([
  'WRONGPASS',
  'NOAUTH',
  'NOPERM',
  'READONLY',
  'LOADING',
  'MASTERDOWN',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'OOM',
  'BUSY',
  'MOVED',
  'ASK',
  'MISCONF',
  'WRONGTYPE',
]);

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ECONNRESET_TLS',
]);
