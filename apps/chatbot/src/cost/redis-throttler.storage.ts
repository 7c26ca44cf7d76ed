import { Injectable, Logger } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { InjectRedisClient, RedisCacheService } from '@llm-cache/redis-cache';
import type { Cluster, Redis } from 'ioredis';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** A fixed-window counter: how far it is and how long until it resets. */
export interface WindowCount {
  total: number;
  resetInMs: number;
}

/**
 * One round trip, one key (so it runs on a cluster: the caller's key carries a `{hash tag}`): add ARGV[1], start the
 * window (ARGV[2] ms) on first use, answer the total and the time left.
 */
const INCREMENT_SCRIPT = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {total, ttl}
`;

/** Bound of the per-process fallback: a flood of tenants can't grow it without limit. */
const MAX_LOCAL_WINDOWS = 10_000;

/**
 * Rate-limit counters shared by every replica through the app's Redis (the RedisCacheModule client), as
 * `@nestjs/throttler` storage and for the token budget. With Redis unavailable (or in-memory mode) the counters fall
 * back to this process — a limit per replica instead of per fleet, never "unlimited" and never an error — and the
 * switch is logged once each way.
 */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger('RateLimit');
  private readonly local = new Map<string, { total: number; resetAtMs: number }>();
  private usingLocal = false;

  constructor(
    private readonly cache: RedisCacheService,
    @InjectRedisClient() private readonly client: Redis | Cluster | null,
  ) {}

  /** `@nestjs/throttler`'s contract: one hit on `key`, blocked once over `limit` until the window ends. */
  async increment(key: string, ttlMs: number, limit: number): Promise<ThrottlerStorageRecord> {
    const { total, resetInMs } = await this.add(key, 1, ttlMs);
    const seconds = Math.max(1, Math.ceil(resetInMs / 1000));
    return { totalHits: total, timeToExpire: seconds, isBlocked: total > limit, timeToBlockExpire: seconds };
  }

  /** Adds `amount` (0 reads) to the window `key` of `windowMs`; never rejects. */
  async add(key: string, amount: number, windowMs: number): Promise<WindowCount> {
    const shared = await this.addInRedis(key, amount, windowMs);
    if (shared) {
      if (this.usingLocal) {
        this.usingLocal = false;
        this.logger.log('Redis is back: rate limits are shared by all replicas again');
      }
      return shared;
    }
    if (!this.usingLocal) {
      this.usingLocal = true;
      this.logger.warn('Redis unavailable: rate limits and token budgets count per process until it is back');
    }
    return this.addLocally(key, amount, windowMs);
  }

  private async addInRedis(key: string, amount: number, windowMs: number): Promise<WindowCount | undefined> {
    if (!this.client || !this.cache.isAvailable()) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = (await Promise.race([
        this.client.eval(INCREMENT_SCRIPT, 1, this.cache.fullKey(key), amount, windowMs),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('rate-limit command timed out')),
            this.cache.options.commandTimeoutMs,
          );
        }),
      ])) as [number, number];
      return { total: Number(reply[0]), resetInMs: Number(reply[1]) };
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private addLocally(key: string, amount: number, windowMs: number): WindowCount {
    const now = Date.now();
    let window = this.local.get(key);
    if (!window || window.resetAtMs <= now) {
      if (!window && this.local.size >= MAX_LOCAL_WINDOWS) this.evict(now);
      window = { total: 0, resetAtMs: now + windowMs };
      this.local.set(key, window);
    }
    window.total += amount;
    return { total: window.total, resetInMs: window.resetAtMs - now };
  }

  /** Drops ended windows; if none ended, the oldest (Map order is insertion order). */
  private evict(now: number): void {
    for (const [key, window] of this.local) if (window.resetAtMs <= now) this.local.delete(key);
    if (this.local.size >= MAX_LOCAL_WINDOWS) {
      const oldest = this.local.keys().next().value;
      if (oldest !== undefined) this.local.delete(oldest);
    }
  }
}
