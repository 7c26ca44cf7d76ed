// Public surface of @llm-cache/redis-cache. Everything else in src/ is internal and may change in any release.

// Module, options and tokens
export { RedisCacheModule, CACHE_MANAGER_NAMESPACE } from './redis-cache.module.js';
export { REDIS_CACHE_MODULE_OPTIONS } from './redis-cache.module-definition.js';
export {
  REDIS_CACHE_CLIENT,
  REDIS_CACHE_RESOLVED_OPTIONS,
  DEFAULT_KEY_PREFIX,
  DEFAULT_TTL_MS,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_BREAKER_FAILURE_THRESHOLD,
  DEFAULT_BREAKER_RESET_TIMEOUT_MS,
  DEFAULT_STATS_FLUSH_INTERVAL_MS,
  DEFAULT_COMPRESS_THRESHOLD_BYTES,
  DEFAULT_MAX_ENTRY_BYTES,
} from './redis-cache.constants.js';
export type * from './redis-cache.interfaces.js';
/** Validates and fills in options the way the module does at start-up (throws with every problem), for early checks. */
export { resolveRedisCacheOptions } from './redis-cache.options.js';
export { InjectRedisClient, getRedisClientToken } from './redis-cache.decorators.js';
export type { RedisClient } from './redis-client.factory.js';

// Service, and what its admin operations report
export {
  RedisCacheService,
  type LockResult,
  type LockUnlessPresentResult,
  type SentWrite,
  type RequireRedisOption,
} from './redis-cache.service.js';
export { RedisUnavailableError, type DeleteByPatternResult } from './redis-cache.errors.js';
export type { CircuitState } from './circuit-breaker.js';

// Generic response cache: decorator, interceptor (extend through its protected hooks), key helpers
export { CacheResponse } from './cache-response.decorator.js';
export {
  RedisCacheInterceptor,
  CACHE_RESPONSE_OPTIONS,
  DEFAULT_CACHED_METHODS,
  canonicalJson,
  type CacheResponseOptions,
  type StoredResponse,
  type ResponseCacheStatus,
  type ResponseCacheOutcome,
} from './redis-cache.interceptor.js';
export { cacheStatusHeaders, type CacheOutcomeStatus, type CacheOutcomeForHeaders } from './cache-status.js';
// Response operations that work the same on Express and Fastify (both interceptors go through them)
export {
  setResponseHeaders,
  onClientDisconnect,
  type HttpResponseLike,
  type NodeResponseLike,
} from './http-response.js';

// One error base with the OpenAI-style shape, and one Cache-Control parser (libs/llm builds on both)
export {
  HttpStatusError,
  defaultErrorType,
  type HttpErrorBody,
  type HttpStatusErrorInit,
} from './http-status.error.js';
/** Answers those errors with their status and body on Express and Fastify (Nest would answer them 500). */
export { HttpStatusErrorFilter } from './http-status-error.filter.js';
export {
  CacheControlError,
  parseCacheControlHeader,
  parseDeltaSeconds,
  mergeCacheControl,
  MAX_CACHE_CONTROL_HEADER_LENGTH,
  type CacheControl,
} from './cache-control.js';

// Health (for @nestjs/terminus) and metrics (through nestjs-otel when installed)
export {
  RedisHealthIndicator,
  type RedisHealthCheckOptions,
  type RedisHealthIndicatorResult,
} from './redis-health.indicator.js';
export { RedisCacheMetrics, DURATION_BUCKETS_S, type RedisConnectionStatus } from './redis-cache.metrics.js';
export {
  loadMetricService,
  type MetricAttributes,
  type MetricCounter,
  type MetricFactory,
  type MetricInstrumentOptions,
  type MetricRecorder,
} from './metric-service.loader.js';
