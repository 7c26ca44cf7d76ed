import { Module, type Provider } from '@nestjs/common';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { HealthIndicatorService } from '@nestjs/terminus';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import type { CacheBackend } from './cache-backend.interface.js';
import { KeyvRedisCacheStore } from './keyv-redis-cache.store.js';
import { MemoryBackend } from './memory.backend.js';
import { createRedisClient } from './redis-client.factory.js';
import {
  REDIS_CACHE_BACKEND,
  REDIS_CACHE_CLIENT,
  REDIS_CACHE_RESOLVED_OPTIONS,
} from './redis-cache.constants.js';
import type { RedisCacheModuleOptions, ResolvedRedisCacheOptions } from './redis-cache.interfaces.js';
import { RedisCacheInterceptor } from './redis-cache.interceptor.js';
import { RedisCacheMetrics } from './redis-cache.metrics.js';
import { ConfigurableRedisCacheModule, REDIS_CACHE_MODULE_OPTIONS } from './redis-cache.module-definition.js';
import { resolveRedisCacheOptions } from './redis-cache.options.js';
import { RedisCacheService } from './redis-cache.service.js';
import { RedisHealthIndicator } from './redis-health.indicator.js';
import { RedisBackend } from './redis.backend.js';

/** Keyv namespace of CACHE_MANAGER entries: `<prefix>:http:<key>`, apart from the LLM cache's keys. */
export const CACHE_MANAGER_NAMESPACE = 'http';

const providers: Provider[] = [
  {
    provide: REDIS_CACHE_RESOLVED_OPTIONS,
    useFactory: (options: RedisCacheModuleOptions) => resolveRedisCacheOptions(options),
    inject: [REDIS_CACHE_MODULE_OPTIONS],
  },
  {
    provide: REDIS_CACHE_BACKEND,
    useFactory: (options: ResolvedRedisCacheOptions): CacheBackend =>
      options.mode === 'memory' ? new MemoryBackend() : new RedisBackend(createRedisClient(options)),
    inject: [REDIS_CACHE_RESOLVED_OPTIONS],
  },
  {
    // The raw ioredis client (null in memory mode), for callers that need a command the service does not offer.
    provide: REDIS_CACHE_CLIENT,
    useFactory: (backend: CacheBackend) => (backend instanceof RedisBackend ? backend.client : null),
    inject: [REDIS_CACHE_BACKEND],
  },
  {
    provide: CACHE_MANAGER,
    useFactory: (cache: RedisCacheService) => {
      // Built by hand: Nest's `namespace` option double-prefixes with a bare store on keyv 5.
      const store = new KeyvRedisCacheStore(cache);
      const keyv = new Keyv({ store, namespace: CACHE_MANAGER_NAMESPACE });
      return createCache({ stores: [keyv], ttl: cache.options.defaultTtlMs });
    },
    inject: [RedisCacheService],
  },
  RedisCacheMetrics,
  RedisCacheService,
  RedisCacheInterceptor,
  HealthIndicatorService,
  RedisHealthIndicator,
];

/**
 * One ioredis client (standalone, cluster or sentinel) owned by the module and shared by everything in it:
 * `RedisCacheService`, `CACHE_MANAGER` (so Nest's `CacheInterceptor` works on Redis) and the health indicator.
 * Quit on application shutdown (call `app.enableShutdownHooks()`).
 */
@Module({
  providers,
  exports: [
    REDIS_CACHE_RESOLVED_OPTIONS,
    REDIS_CACHE_CLIENT,
    CACHE_MANAGER,
    RedisCacheMetrics,
    RedisCacheService,
    RedisCacheInterceptor,
    RedisHealthIndicator,
  ],
})
export class RedisCacheModule extends ConfigurableRedisCacheModule {}
