// Public surface of @llm-cache/llm. Everything else in src/ is internal and may change in any release.

// Module, options and tokens
export { LlmCacheModule } from './llm-cache.module.js';
export type * from './llm-cache.interfaces.js';
export {
  LLM_PROVIDER,
  LLM_CACHE_RESOLVED_OPTIONS,
  DEFAULT_KEY_SCHEMA_VERSION,
  DEFAULT_LLM_TTL_MS,
  DEFAULT_LOCK_TTL_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_MAX_MESSAGES,
  DEFAULT_TENANT,
} from './llm.constants.js';
export { InjectLlmProvider, getLlmProviderToken } from './llm-cache.decorators.js';

// Service
export { LlmCacheService } from './llm-cache.service.js';
export { LlmCacheMetrics, type LlmCacheResultLabel } from './llm-cache.metrics.js';
// The roles LlmCacheService is built from: module providers, replaceable through `LlmCacheModule.forRoot({ providers })`
export { RequestCoalescer, type Flight, type FlightOutcome } from './request-coalescer.js';
export { LlmCallCoordinator, type Coordinated, type Lead, type Release } from './llm-call.coordinator.js';
export { LlmStreamLeader } from './llm-stream.leader.js';
export type { ChunkBroadcast, ChunkBroadcastOptions } from './chunk-broadcast.js';
export { LlmUpstream, type UpstreamAbort, type UpstreamStream } from './llm-upstream.js';
export { LlmCacheEntries } from './llm-cache.entries.js';
export { LlmCacheAccounting } from './llm-cache.accounting.js';
export { LlmCacheTracing, type LlmCacheTraceResult } from './llm-cache.tracing.js';
export {
  UpstreamFailureLog,
  type UpstreamFailureLogOptions,
  type UpstreamFailureDetails,
} from './upstream-failure.log.js';
export { CacheKeyPolicy } from './cache-key.policy.js';
export { PriceTable } from './pricing.js';
export type { Found, LlmCallPlan } from './llm-call.plan.js';

// HTTP: decorator and interceptor (extend through its protected hooks)
export { CacheLlmResponse } from './cache-llm-response.decorator.js';
export { LlmCacheInterceptor, type CacheLlmResponseOptions } from './llm-cache.interceptor.js';
// The request's tenant and cache outcome, for providers and handlers that run inside a cached call.
export {
  LlmRequestContext,
  type LlmCacheOutcome,
  type LlmRequestContextData,
} from './llm-request.context.js';
export { parseCacheControl, type CacheControl } from './cache-control.js';

// Keys and determinism
export type {
  CacheKeyContext,
  CacheKeyFn,
  CacheKeyExplanation,
  CacheKeyPolicyOptions,
} from './cache-key.policy.js';
// A tenant's key segment (`llm:v<schema>:<segment>:…`), for admin tools that address one tenant's entries.
export { tenantSegment } from './cache-key.policy.js';
export type { DeterminismPolicy } from './determinism.policy.js';

// Requests, responses, validation
export type * from './llm.types.js';
export {
  validateChatCompletionRequest,
  DEFAULT_MAX_REQUEST_DEPTH,
  type RequestValidationOptions,
} from './request.validator.js';
export { assembleCompletion, type LlmCacheEntry } from './stream.codec.js';
export { DEFAULT_PRICING, type ModelPrice } from './pricing.js';

// Errors
export { LlmCacheControlError, LlmCacheMissError, LlmRequestValidationError } from './llm-cache.errors.js';
export { LlmProviderError, type LlmProviderErrorStatus } from './llm-provider.error.js';

// Providers
export type { LlmProvider } from './llm-provider.interface.js';
export { OpenAiProvider, type OpenAiProviderOptions } from './openai.provider.js';
export { MockProvider, type MockProviderOptions } from './mock.provider.js';
