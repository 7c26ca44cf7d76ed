/** A `Cache-Control` directive or body `cache` field that cannot be honoured as written. */
export class LlmCacheControlError extends Error {
  override readonly name = 'LlmCacheControlError';
  readonly status = 400;
  readonly type = 'invalid_request_error';
  constructor(
    message: string,
    /** The directive or field that was wrong, e.g. `max-age`. */
    readonly param: string,
  ) {
    super(message);
  }
}

/** `only-if-cached` was asked and there is no usable entry (RFC 9111: 504). */
export class LlmCacheMissError extends Error {
  override readonly name = 'LlmCacheMissError';
  readonly status = 504;
  readonly type = 'cache_miss';
  readonly code = 'only_if_cached';
  constructor(message = 'only-if-cached: no cached response for this request') {
    super(message);
  }
}

/** A chat-completions body that is not valid; `param` is the path of the offending field. */
export class LlmRequestValidationError extends Error {
  override readonly name = 'LlmRequestValidationError';
  readonly status = 400;
  readonly type = 'invalid_request_error';
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}
