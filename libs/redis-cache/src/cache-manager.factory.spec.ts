import { describe, expect, it } from '@jest/globals';
import { CACHE_MANAGER as NEST_CACHE_MANAGER } from '@nestjs/cache-manager';
import { CACHE_MANAGER, createCacheManager } from './cache-manager.factory.js';
import type { RedisCacheService } from './redis-cache.service.js';

const service = { options: { defaultTtlMs: 1000 } } as unknown as RedisCacheService;

describe('createCacheManager', () => {
  it('provides the very token @nestjs/cache-manager injects', () => {
    expect(CACHE_MANAGER).toBe(NEST_CACHE_MANAGER);
  });

  it('builds a cache-manager Cache when cache-manager and keyv are installed', async () => {
    const manager = (await createCacheManager(service)) as { get: unknown; set: unknown } | null;
    expect(typeof manager?.get).toBe('function');
    expect(typeof manager?.set).toBe('function');
  });

  it('resolves to null, without throwing, when an optional peer is not installed', async () => {
    const missing = Object.assign(new Error("Cannot find package 'keyv'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const load = (name: string) => (name === 'keyv' ? Promise.reject(missing) : import(name));
    expect(await createCacheManager(service, load)).toBeNull();
  });

  it('propagates any other load failure (a real bug, not a missing package)', async () => {
    const load = () => Promise.reject(new TypeError('boom'));
    await expect(createCacheManager(service, load)).rejects.toThrow('boom');
  });
});
