import { Module, type Provider } from '@nestjs/common';
import type { LlmCacheModuleOptions, ResolvedLlmCacheOptions } from './llm-cache.interfaces.js';
import { CacheKeyPolicy } from './cache-key.policy.js';
import { LlmCacheAccounting } from './llm-cache.accounting.js';
import { LlmCacheTracing } from './llm-cache.tracing.js';
import { LlmCacheEntries } from './llm-cache.entries.js';
import { LlmCacheInterceptor } from './llm-cache.interceptor.js';
import { LlmCacheMetrics } from './llm-cache.metrics.js';
import { ConfigurableLlmCacheModule, LLM_CACHE_MODULE_OPTIONS } from './llm-cache.module-definition.js';
import { resolveLlmCacheOptions } from './llm-cache.options.js';
import { LlmCacheService } from './llm-cache.service.js';
import { LlmCallCoordinator } from './llm-call.coordinator.js';
import { LlmStreamLeader } from './llm-stream.leader.js';
import { LlmUpstream } from './llm-upstream.js';
import { PriceTable } from './pricing.js';
import { RequestCoalescer } from './request-coalescer.js';
import { LLM_CACHE_RESOLVED_OPTIONS, LLM_PROVIDER } from './llm.constants.js';

const providers: Provider[] = [
  {
    provide: LLM_CACHE_RESOLVED_OPTIONS,
    useFactory: (options: LlmCacheModuleOptions) => resolveLlmCacheOptions(options),
    inject: [LLM_CACHE_MODULE_OPTIONS],
  },
  {
    // null when no default provider is configured: every call must then name one.
    provide: LLM_PROVIDER,
    useFactory: (options: LlmCacheModuleOptions) => options.provider ?? null,
    inject: [LLM_CACHE_MODULE_OPTIONS],
  },
  {
    provide: CacheKeyPolicy,
    useFactory: (options: ResolvedLlmCacheOptions) =>
      new CacheKeyPolicy({
        schemaVersion: options.keySchemaVersion,
        shareAcrossTenants: options.shareAcrossTenants,
        includeUserField: options.includeUserField,
        cacheKeyFn: options.cacheKeyFn,
      }),
    inject: [LLM_CACHE_RESOLVED_OPTIONS],
  },
  {
    provide: PriceTable,
    useFactory: (options: ResolvedLlmCacheOptions) => new PriceTable(options.pricing),
    inject: [LLM_CACHE_RESOLVED_OPTIONS],
  },
  // The roles LlmCacheService is built from; each can be replaced through the module's `providers` extra.
  RequestCoalescer,
  LlmCacheAccounting,
  LlmCacheEntries,
  LlmUpstream,
  LlmCallCoordinator,
  LlmStreamLeader,
  LlmCacheTracing,
  LlmCacheMetrics,
  LlmCacheService,
  LlmCacheInterceptor,
];

/**
 * The LLM cache. Needs `RedisCacheService`: import `RedisCacheModule.forRoot({ isGlobal: true, … })` in the app, or
 * pass it in `imports`. With Redis down every call still answers from the provider.
 */
@Module({
  providers,
  exports: [LlmCacheService, LLM_PROVIDER, LLM_CACHE_RESOLVED_OPTIONS, LlmCacheInterceptor, LlmCacheMetrics],
})
export class LlmCacheModule extends ConfigurableLlmCacheModule {}
