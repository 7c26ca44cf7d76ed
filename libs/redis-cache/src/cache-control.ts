import { HttpStatusError } from './http-status.error.js';

/** Per-request cache controls: the RFC 9111 request directives a cache in front of a handler can honour. */
export interface CacheControl {
  /** Neither read nor write the cache (bypass). */
  noStore?: boolean;
  /** Do not answer from the cache, but store the fresh answer (refresh). */
  noCache?: boolean;
  /** Accept a cached answer only if it is at most this old. */
  maxAgeMs?: number;
  /** Answer only from the cache; a miss is an error (RFC 9111: 504) instead of a call. */
  onlyIfCached?: boolean;
}

/** A cache directive that cannot be honoured as written (400); `param` names the directive. */
export class CacheControlError extends HttpStatusError {
  declare readonly param: string;
  constructor(message: string, param: string) {
    super(message, { status: 400, type: 'invalid_request_error', param });
  }
}

/** Longer headers are refused: a bound on the work one request can ask of the parser. */
export const MAX_CACHE_CONTROL_HEADER_LENGTH = 1024;

/**
 * Reads the `Cache-Control` request header (several header lines are joined, as HTTP allows). Directive names are
 * case-insensitive; unknown directives are ignored as RFC 9111 requires (proxies add their own). A malformed value
 * of a directive we honour (`max-age=soon`) throws `CacheControlError`, unless `onInvalid` is `'ignore'` — for a
 * caller that honours only the flags and must not fail a request over a value it would not use.
 */
export function parseCacheControlHeader(
  header: string | readonly string[] | undefined | null,
  onInvalid: 'throw' | 'ignore' = 'throw',
): CacheControl {
  if (header === undefined || header === null) return {};
  let text: unknown =
    typeof header === 'string' ? header : Array.isArray(header) ? header.join(', ') : header;
  if (typeof text !== 'string') {
    if (onInvalid === 'ignore') return {};
    throw new CacheControlError('Cache-Control header must be a string', 'cache-control');
  }
  if (text.length > MAX_CACHE_CONTROL_HEADER_LENGTH) {
    if (onInvalid === 'throw')
      throw new CacheControlError('Cache-Control header is too long', 'cache-control');
    text = text.slice(0, MAX_CACHE_CONTROL_HEADER_LENGTH);
  }
  const control: CacheControl = {};
  for (const raw of (text as string).split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value =
      eq < 0
        ? undefined
        : part
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    switch (name) {
      case 'no-store':
        control.noStore = true;
        break;
      case 'no-cache':
        control.noCache = true;
        break;
      case 'only-if-cached':
        control.onlyIfCached = true;
        break;
      case 'max-age':
        try {
          control.maxAgeMs = parseDeltaSeconds('max-age', value) * 1000;
        } catch (err) {
          if (onInvalid === 'throw') throw err;
        }
        break;
      default:
        break;
    }
  }
  return control;
}

/**
 * RFC 9111 delta-seconds: a non-negative whole number of seconds (a JSON number or its decimal text). Throws
 * `CacheControlError` naming `directive` otherwise.
 */
export function parseDeltaSeconds(directive: string, value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new CacheControlError(`${directive} must be a non-negative whole number of seconds`, directive);
  }
  return n;
}

/** Combines controls from several sources: flags add up, the smallest max-age wins. */
export function mergeCacheControl(...controls: CacheControl[]): CacheControl {
  const out: CacheControl = {};
  for (const c of controls) {
    if (c.noStore) out.noStore = true;
    if (c.noCache) out.noCache = true;
    if (c.onlyIfCached) out.onlyIfCached = true;
    if (c.maxAgeMs !== undefined) out.maxAgeMs = Math.min(out.maxAgeMs ?? Infinity, c.maxAgeMs);
  }
  return out;
}
