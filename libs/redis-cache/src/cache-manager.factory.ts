import { Logger } from '@nestjs/common';
import { KeyvRedisCacheStore } from './keyv-redis-cache.store.js';
import type { RedisCacheService } from './redis-cache.service.js';

/**
 * `@nestjs/cache-manager`'s injection token (the string `'CACHE_MANAGER'`; a spec pins it to that package's
 * export). Declared here so the module can provide it without importing `@nestjs/cache-manager`, an optional peer.
 */
export const CACHE_MANAGER = 'CACHE_MANAGER';

/** Keyv namespace of CACHE_MANAGER entries: `<prefix>:http:<key>`, apart from the LLM cache's keys. */
export const CACHE_MANAGER_NAMESPACE = 'http';

/** What `import()` rejects with for a package that is not installed. */
function isModuleNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * A cache-manager 7 `Cache` whose only store is a Keyv 5 over the module's RedisCacheService (same client, same
 * fail-open path). cache-manager and keyv are optional peers, imported on demand: without them this resolves to
 * null (and the module still boots). Built by hand: Nest's `namespace` option double-prefixes with a bare store on
 * keyv 5.
 */
export async function createCacheManager(
  cache: RedisCacheService,
  load: (name: 'cache-manager' | 'keyv') => Promise<unknown> = (name) => import(name),
): Promise<unknown> {
  let cacheManager: typeof import('cache-manager');
  let keyv: typeof import('keyv');
  try {
    cacheManager = (await load('cache-manager')) as typeof import('cache-manager');
    keyv = (await load('keyv')) as typeof import('keyv');
  } catch (err) {
    if (!isModuleNotFound(err)) throw err;
    new Logger('RedisCacheModule').log(
      'CACHE_MANAGER not provided: install cache-manager and keyv to back Nest CacheInterceptor with this Redis',
    );
    return null;
  }
  const store = new KeyvRedisCacheStore(cache);
  const namespaced = new keyv.Keyv({ store, namespace: CACHE_MANAGER_NAMESPACE });
  return cacheManager.createCache({ stores: [namespaced], ttl: cache.options.defaultTtlMs });
}
