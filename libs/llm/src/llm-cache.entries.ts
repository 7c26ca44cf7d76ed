import { Inject, Injectable, Logger } from '@nestjs/common';
import { RedisCacheService, type SentWrite } from '@llm-cache/redis-cache';
import type { Found, LlmCallPlan } from './llm-call.plan.js';
import type { LlmCacheEntry } from './stream.codec.js';

/**
 * A stream's capture is kept for storage up to maxEntryBytes of raw JSON times this when the entry would be
 * gzipped: chunk JSON repeats its id/model/fields and shrinks 20-60x, so a capture above this cannot fit anyway.
 */
const CAPTURE_GZIP_HEADROOM = 16;
const QUIET = { countStats: false } as const;
/** The `storedPromise` of an answer nothing was to be stored for (a hit, a bypass, a coalesced answer). */
export const NOT_STORED: Promise<boolean> = Promise.resolve(false);
/** A write dropped before it was sent (nothing to store, Redis unavailable). */
export const NOT_SENT: SentWrite = { sent: false, written: NOT_STORED };

/** Reading, building and writing the cache entries of LLM answers (under `plan.key`). */
@Injectable()
export class LlmCacheEntries {
  protected readonly logger = new Logger('LlmCacheService');
  /**
   * Entries sent to Redis whose reply has not come yet, by key: this process's lookups answer from here until it
   * does, so they never depend on the order in which the connection applies a sent store and a later GET (an
   * EVALSHA answered NOSCRIPT is re-sent behind later commands). A miss read right after a miss was seen in a
   * loaded test run; its cause was not pinned down.
   */
  private readonly pending = new Map<string, LlmCacheEntry>();

  constructor(@Inject(RedisCacheService) protected readonly cache: RedisCacheService) {}

  /**
   * One GET; undefined on a miss, an unreadable entry, an entry older than `max-age`, or `no-cache`. `quiet` leaves
   * the cache's hit/miss counters alone (a follower polling for a leader's entry is not a lookup of its own).
   */
  async lookup(plan: LlmCallPlan, quiet = false): Promise<Found | undefined> {
    if (plan.control.noCache) return undefined;
    // A value the caller read in a round trip of its own (and the cache counted there): used once, by the first lookup.
    const { prefetched } = plan;
    plan.prefetched = undefined;
    const pending = this.pending.get(plan.key!);
    if (pending) {
      if (!quiet && !prefetched) this.cache.count('stats', { hits: 1 });
      return this.accept(plan, pending);
    }
    if (prefetched) return this.accept(plan, prefetched.value as LlmCacheEntry | undefined);
    return this.accept(plan, await this.cache.get<LlmCacheEntry>(plan.key!, quiet ? QUIET : undefined));
  }

  /** A value read from `plan.key` as a usable entry: undefined when malformed or older than `max-age`. */
  accept(plan: LlmCallPlan, entry: LlmCacheEntry | undefined): Found | undefined {
    if (!entry || entry.format !== 1 || (!entry.completion && !entry.chunks)) return undefined;
    const ageMs = Math.max(0, Date.now() - entry.createdAtMs);
    if (plan.control.maxAgeMs !== undefined && ageMs > plan.control.maxAgeMs) {
      plan.staleEntryAgeMs = ageMs;
      return undefined;
    }
    return { entry, ageMs };
  }

  create(
    plan: LlmCallPlan,
    latencyMs: number,
    body: Pick<LlmCacheEntry, 'completion' | 'chunks'>,
  ): LlmCacheEntry {
    const model = body.completion?.model ?? body.chunks?.[0]?.model ?? plan.request.model;
    return {
      format: 1,
      createdAtMs: Date.now(),
      upstreamLatencyMs: Math.round(latencyMs),
      model,
      ttlMs: plan.ttlMs,
      ...body,
    };
  }

  /** Resolves whether the entry was stored; never rejects (a cache that cannot store is not the caller's error). */
  async store(plan: LlmCallPlan, entry: LlmCacheEntry): Promise<boolean> {
    return (await this.sendStore(plan, entry)).written;
  }

  /**
   * `store` without waiting for Redis' reply: resolves as soon as the write is sent (queued on the connection, so
   * this process's next lookup of the key finds it), with `written` to await the outcome. Never rejects; a failed
   * write is logged and counted by the cache as any failed command.
   */
  async sendStore(plan: LlmCallPlan, entry: LlmCacheEntry): Promise<SentWrite> {
    try {
      return this.track(plan.key!, entry, await this.cache.sendSet(plan.key!, entry, { ttlMs: plan.ttlMs }));
    } catch (err) {
      this.logger.warn(`not caching ${plan.key}: ${(err as Error).message}`);
      return NOT_SENT;
    }
  }

  /**
   * `store`, and the release of the leader's lock, in one round trip; the entry lands before the lock goes.
   * Resolves whether the entry was stored (the lock is released either way); never rejects.
   */
  async storeAndUnlock(plan: LlmCallPlan, entry: LlmCacheEntry, token: string): Promise<boolean> {
    return (await this.sendStoreAndUnlock(plan, entry, token)).written;
  }

  /** `storeAndUnlock` without waiting for Redis' reply (see `sendStore`). Never rejects. */
  async sendStoreAndUnlock(plan: LlmCallPlan, entry: LlmCacheEntry, token: string): Promise<SentWrite> {
    try {
      const write = await this.cache.sendSetAndReleaseLock(plan.key!, entry, {
        ttlMs: plan.ttlMs,
        lockKey: plan.lockKey!,
        token,
      });
      return this.track(plan.key!, entry, write);
    } catch (err) {
      this.logger.warn(`not caching ${plan.key}: ${(err as Error).message}`);
      return NOT_SENT;
    }
  }

  /** Serves `entry` to this process's lookups of `key` while its write is in flight (see `pending`). */
  private track(key: string, entry: LlmCacheEntry, write: SentWrite): SentWrite {
    if (!write.sent) return write;
    this.pending.set(key, entry);
    void write.written.then(() => {
      if (this.pending.get(key) === entry) this.pending.delete(key);
    });
    return write;
  }

  /** Where a stream's capture stops being kept for storage (see `CAPTURE_GZIP_HEADROOM`). */
  maxCaptureBytes(): number {
    const { maxEntryBytes, compressThresholdBytes } = this.cache.options;
    return compressThresholdBytes < maxEntryBytes ? maxEntryBytes * CAPTURE_GZIP_HEADROOM : maxEntryBytes;
  }
}
