import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import type { RedisCacheService } from './redis-cache.service.js';

/**
 * A Keyv 5 store over the module's RedisCacheService, so `CACHE_MANAGER` (cache-manager 7) and Nest's
 * `CacheInterceptor` write to the same Redis through the same client — fail-open, bounded and prefixed like every
 * other cache call. Keyv serializes values itself; this store moves its strings as they are.
 */
export class KeyvRedisCacheStore extends EventEmitter implements KeyvStoreAdapter {
  opts: Record<string, unknown> = { dialect: 'redis' };
  namespace?: string;

  constructor(protected readonly cache: RedisCacheService) {
    super();
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return (await this.cache.getRaw(key)) as StoredData<Value> | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    return Promise.all(keys.map((k) => this.get<Value>(k)));
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<boolean> {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return this.cache.setRaw(key, text, ttlMs && ttlMs > 0 ? ttlMs : undefined);
  }

  async delete(key: string): Promise<boolean> {
    return this.cache.delete(key);
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    const results = await Promise.all(keys.map((k) => this.cache.delete(k)));
    return results.some(Boolean);
  }

  async has(key: string): Promise<boolean> {
    return (await this.cache.exists(key)) === true;
  }

  /** Clears this store's namespace only (never the whole database). */
  async clear(): Promise<void> {
    await this.cache.clear(this.namespace ? `${this.namespace}:*` : '*');
  }
}
