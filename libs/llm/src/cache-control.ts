import { LlmCacheControlError } from './llm-cache.errors.js';

/** Per-request cache controls (RFC 9111 request directives, in the LLM cache's terms). */
export interface CacheControl {
  /** Neither read nor write the cache (bypass). */
  noStore?: boolean;
  /** Do not answer from the cache, but store the fresh answer (refresh). */
  noCache?: boolean;
  /** Accept a cached answer only if it is at most this old. */
  maxAgeMs?: number;
  /** Answer only from the cache; a miss is a 504 instead of a provider call. */
  onlyIfCached?: boolean;
}

const MAX_HEADER_LENGTH = 1024;

/**
 * Merges the `Cache-Control` request header with the body's `cache` object (booleans are OR-ed, the smaller
 * max-age wins). Unknown header directives are ignored as RFC 9111 requires (proxies add their own); the body is
 * our own API, so an unknown field there is an error. Throws `LlmCacheControlError` naming the bad directive.
 */
export function parseCacheControl(header: string | undefined, body?: unknown): CacheControl {
  return merge(parseHeader(header), parseBody(body));
}

function parseHeader(header: string | undefined): CacheControl {
  if (header === undefined || header === null) return {};
  if (typeof header !== 'string')
    throw new LlmCacheControlError('Cache-Control header must be a string', 'cache-control');
  if (header.length > MAX_HEADER_LENGTH)
    throw new LlmCacheControlError('Cache-Control header is too long', 'cache-control');
  const control: CacheControl = {};
  for (const raw of header.split(',')) {
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
        control.maxAgeMs = seconds('max-age', value);
        break;
      default:
        break;
    }
  }
  return control;
}

function parseBody(body: unknown): CacheControl {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new LlmCacheControlError(
      'cache must be an object, e.g. { "no-store": true } or { "max-age": 60 }',
      'cache',
    );
  }
  const control: CacheControl = {};
  for (const [field, value] of Object.entries(body as Record<string, unknown>)) {
    switch (field) {
      case 'no-store':
      case 'noStore':
        control.noStore = flag(field, value);
        break;
      case 'no-cache':
      case 'noCache':
        control.noCache = flag(field, value);
        break;
      case 'only-if-cached':
      case 'onlyIfCached':
        control.onlyIfCached = flag(field, value);
        break;
      case 'max-age':
      case 'maxAgeSeconds':
        control.maxAgeMs = seconds(field, value);
        break;
      case 'maxAgeMs':
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
          throw new LlmCacheControlError(
            `cache.${field} must be a non-negative number of milliseconds`,
            `cache.${field}`,
          );
        }
        control.maxAgeMs = value;
        break;
      default:
        throw new LlmCacheControlError(
          `unknown cache directive "${field}" (use no-store, no-cache, max-age, only-if-cached)`,
          `cache.${field}`,
        );
    }
  }
  return control;
}

function flag(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new LlmCacheControlError(`cache.${field} must be a boolean`, `cache.${field}`);
  return value;
}

function seconds(name: string, value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new LlmCacheControlError(`${name} must be a non-negative whole number of seconds`, name);
  }
  return n * 1000;
}

function merge(a: CacheControl, b: CacheControl): CacheControl {
  const out: CacheControl = {};
  if (a.noStore || b.noStore) out.noStore = true;
  if (a.noCache || b.noCache) out.noCache = true;
  if (a.onlyIfCached || b.onlyIfCached) out.onlyIfCached = true;
  const ages = [a.maxAgeMs, b.maxAgeMs].filter((v): v is number => v !== undefined);
  if (ages.length) out.maxAgeMs = Math.min(...ages);
  return out;
}
