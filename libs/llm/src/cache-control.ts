import {
  CacheControlError,
  mergeCacheControl,
  parseCacheControlHeader,
  parseDeltaSeconds,
  type CacheControl,
} from '@llm-cache/redis-cache';
import { LlmCacheControlError } from './llm-cache.errors.js';

export type { CacheControl };

/**
 * The LLM cache's controls: the `Cache-Control` header (redis-cache's parser, strict — a bad `max-age` is a 400)
 * merged with the body's `cache` object, an addition of this API for clients that cannot set headers (booleans
 * are OR-ed, the smaller max-age wins). The body is our own API, so an unknown field there is an error. Throws
 * `LlmCacheControlError` naming the bad directive.
 */
export function parseCacheControl(
  header: string | readonly string[] | undefined,
  body?: unknown,
): CacheControl {
  try {
    return mergeCacheControl(parseCacheControlHeader(header), parseBody(body));
  } catch (err) {
    if (err instanceof CacheControlError && !(err instanceof LlmCacheControlError)) {
      throw new LlmCacheControlError(err.message, err.param);
    }
    throw err;
  }
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
        control.maxAgeMs = parseDeltaSeconds(field, value) * 1000;
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
