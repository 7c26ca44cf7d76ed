import { Module, type Provider } from '@nestjs/common';
import type { CacheBackend } from './cache-backend.interface.js';
import { CACHE_MANAGER, CACHE_MANAGER_NAMESPACE, createCacheManager } from './cache-manager.factory.js';
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

export { CACHE_MANAGER_NAMESPACE };

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
    // null when the app does not install cache-manager + keyv (optional peers): then nothing injects it.
    provide: CACHE_MANAGER,
    useFactory: (cache: RedisCacheService) => createCacheManager(cache),
    inject: [RedisCacheService],
  },
  RedisCacheMetrics,
  RedisCacheService,
  RedisCacheInterceptor,
  RedisHealthIndicator,
];

/**
 * One ioredis client (standalone, cluster or sentinel) owned by the module and shared by everything in it:
 * `RedisCacheService`, `CACHE_MANAGER` (so Nest's `CacheInterceptor` works on Redis, when the app installs
 * cache-manager and keyv) and the health indicator (for @nestjs/terminus, which the module itself does not need).
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
