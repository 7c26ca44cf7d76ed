import { CacheControlError, HttpStatusError } from '@llm-cache/redis-cache';

/** A `Cache-Control` directive or body `cache` field that cannot be honoured as written (400). */
export class LlmCacheControlError extends CacheControlError {
  override readonly name = 'LlmCacheControlError';
  constructor(
    message: string,
    /** The directive or field that was wrong, e.g. `max-age` or `cache.no-store`. */
    param: string,
  ) {
    super(message, param);
  }
}

/** `only-if-cached` was asked and there is no usable entry (RFC 9111: 504). */
export class LlmCacheMissError extends HttpStatusError {
  override readonly name = 'LlmCacheMissError';
  constructor(message = 'only-if-cached: no cached response for this request') {
    super(message, { status: 504, type: 'cache_miss', code: 'only_if_cached' });
  }
}

/** A chat-completions body that is not valid (400); `param` is the path of the offending field. */
export class LlmRequestValidationError extends HttpStatusError {
  override readonly name = 'LlmRequestValidationError';
  declare readonly param: string;
  constructor(message: string, param: string) {
    super(message, { status: 400, type: 'invalid_request_error', param });
  }
}
