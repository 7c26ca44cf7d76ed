import { Inject, Injectable } from '@nestjs/common';
import { RedisCacheService, type LockResult, type SentWrite } from '@llm-cache/redis-cache';
import { sleep, throwIfAborted } from './abortable.js';
import { LlmCacheEntries, NOT_SENT } from './llm-cache.entries.js';
import type { ResolvedLlmCacheOptions } from './llm-cache.interfaces.js';
import type { Found, LlmCallPlan } from './llm-call.plan.js';
import { LLM_CACHE_RESOLVED_OPTIONS } from './llm.constants.js';
import { RequestCoalescer, type Flight } from './request-coalescer.js';
import type { LlmCacheEntry } from './stream.codec.js';

export type Coordinated<R> = { role: 'follower'; found: Found } | { role: 'leader'; result: R };
/**
 * Leaders call this exactly once: with their entry (followers get it, stored or not: it answers their identical
 * request), `'alone'` (a success with nothing to share: followers call the provider themselves, concurrently) or
 * nothing (a failure: one follower leads next). With `store`, the entry is also written to the cache — together
 * with the lock's release, in one round trip — and the promise resolves whether it was written (never rejects).
 * `onSent`, when given, is called as soon as that write (or the lock's release alone) has been sent to Redis and the
 * followers of this process have their outcome — with whether the entry was sent to be stored. Sent means queued on
 * the connection: this process's later commands on the key are answered after it, so a leader may answer its caller
 * then instead of waiting one more round trip for Redis' reply (see `releaseAndSend`).
 */
export type Release = (
  handoff?: LlmCacheEntry | 'alone',
  store?: boolean,
  onSent?: (sent: boolean) => void,
) => Promise<boolean>;
/**
 * A leader's work: `release` as above; `followers()` counts the callers of this process waiting for it now;
 * `boundMs`, when others may wait for it (a flight and a lock), is the longest its work may stay silent (a stream:
 * between two chunks). The lock is extended while the leader runs, so a long, healthy answer is never cut.
 */
export type Lead<R> = (release: Release, followers: () => number, boundMs?: number) => Promise<R>;

/**
 * A leader's hand-over of its entry: `release(entry, store)`, answered as soon as the write has been sent (`stored`:
 * whether the entry was sent to be stored) instead of after Redis' reply — or after it with `awaitStore` (`stored`:
 * whether it was written). `storedPromise` resolves whether it was written and never rejects.
 */
export async function releaseAndSend(
  release: Release,
  entry: LlmCacheEntry,
  store: boolean,
  awaitStore = false,
): Promise<{ stored: boolean; storedPromise: Promise<boolean> }> {
  let onSent!: (sent: boolean) => void;
  const sent = new Promise<boolean>((resolve) => (onSent = resolve));
  // A Release of a replaced coordinator may reject or never call onSent: then its outcome is the answer.
  const storedPromise = release(entry, store, onSent).catch(() => false);
  const stored = awaitStore ? await storedPromise : await Promise.race([sent, storedPromise]);
  return { stored, storedPromise };
}

/** A follower re-tries after a failed leader at most this often before calling the provider itself. */
const MAX_LEADER_ATTEMPTS = 5;

/**
 * One leader per key: in this process through the flight map, across processes through a Redis lock. Followers
 * get the leader's entry; a failed leader hands them nothing and one of them leads next. Every wait is bounded by
 * `waitTimeoutMs`, after which a follower calls the provider itself.
 */
@Injectable()
export class LlmCallCoordinator {
  constructor(
    @Inject(RedisCacheService) protected readonly cache: RedisCacheService,
    @Inject(LlmCacheEntries) protected readonly entries: LlmCacheEntries,
    @Inject(RequestCoalescer) protected readonly flights: RequestCoalescer<LlmCacheEntry>,
    @Inject(LLM_CACHE_RESOLVED_OPTIONS) protected readonly options: ResolvedLlmCacheOptions,
  ) {}

  async coordinate<R>(plan: LlmCallPlan, lead: Lead<R>): Promise<Coordinated<R>> {
    const { enabled, waitTimeoutMs } = this.options.coalescing;
    // A refresh wants an answer newer than what is stored, so it neither waits for nor blocks anyone.
    if (!enabled || plan.control.noCache) return { role: 'leader', result: await this.runAlone(plan, lead) };
    const key = plan.key!;
    const deadline = Date.now() + waitTimeoutMs;
    for (let attempt = 0; attempt < MAX_LEADER_ATTEMPTS && Date.now() < deadline; attempt++) {
      const flight = this.flights.lead(key);
      if (!flight) {
        const outcome = await this.flights.follow(key, deadline - Date.now(), plan.signal);
        throwIfAborted(plan.signal);
        if (outcome === 'timeout') break;
        if (outcome !== 'none' && outcome.ok) {
          return {
            role: 'follower',
            found: { entry: outcome.value, ageMs: Math.max(0, Date.now() - outcome.value.createdAtMs) },
          };
        }
        // The leader succeeded with nothing to share: waiting for another leader would only serialize the calls.
        if (outcome !== 'none' && outcome.alone) break;
        continue;
      }
      return this.leadFlight(plan, flight, deadline, lead);
    }
    return { role: 'leader', result: await this.runAlone(plan, lead) };
  }

  /** This process's leader: takes the Redis lock (or waits for the process holding it), then calls `lead`. */
  protected async leadFlight<R>(
    plan: LlmCallPlan,
    flight: Flight<LlmCacheEntry>,
    deadline: number,
    lead: Lead<R>,
  ): Promise<Coordinated<R>> {
    let token: string | undefined;
    try {
      for (let attempt = 0; attempt < MAX_LEADER_ATTEMPTS; attempt++) {
        const lock = await this.acquire(plan);
        if ('entry' in lock) {
          flight.settle({ ok: true, value: lock.entry });
          return { role: 'follower', found: lock };
        }
        if (lock.status === 'unavailable') break;
        if (lock.status === 'acquired') {
          token = lock.token;
          break;
        }
        const waited = await this.waitForRemoteLeader(plan, deadline);
        if (waited === 'timeout') break;
        if (waited !== 'released') {
          flight.settle({ ok: true, value: waited.entry });
          return { role: 'follower', found: waited };
        }
      }
    } catch (err) {
      if (token) await this.cache.releaseLock(plan.lockKey!, token);
      flight.settle({ ok: false });
      throw err;
    }
    const keeper = token ? this.keepLock(plan.lockKey!, token) : undefined;
    const release: Release = async (handoff, store = false, onSent) => {
      keeper?.stop();
      // The lock goes first (sent before the followers are settled): a follower of this process that leads next must
      // not find our stale lock and wait on it. Its own lock command goes out on the same connection, after ours.
      let write: SentWrite = NOT_SENT;
      if (store && typeof handoff === 'object') {
        write = token
          ? await this.entries.sendStoreAndUnlock(plan, handoff, token)
          : await this.entries.sendStore(plan, handoff);
      } else if (token) void this.cache.releaseLock(plan.lockKey!, token);
      flight.settle(
        handoff === 'alone'
          ? { ok: false, alone: true }
          : handoff
            ? { ok: true, value: handoff }
            : { ok: false },
      );
      onSent?.(write.sent);
      return write.written;
    };
    const result = await this.runLeader(
      lead,
      release,
      () => flight.followers,
      this.options.coalescing.lockTtlMs,
    );
    return { role: 'leader', result };
  }

  /**
   * The Redis lock, and the re-check of the entry (another leader may have stored it since our lookup), in one
   * round trip. An entry that exists but does not serve this call (older than its `max-age`, unreadable) is a miss:
   * then the lock is taken on its own.
   */
  protected async acquire(plan: LlmCallPlan): Promise<Found | LockResult> {
    const { lockTtlMs } = this.options.coalescing;
    const lock = await this.cache.acquireLockUnlessPresent<LlmCacheEntry>(
      plan.lockKey!,
      lockTtlMs,
      plan.key!,
    );
    if (lock.status !== 'present') return lock;
    return this.entries.accept(plan, lock.value) ?? this.cache.acquireLock(plan.lockKey!, lockTtlMs);
  }

  /**
   * Extends the lock (owner-checked) every third of its TTL while the leader works, so an answer that takes longer
   * than `lockTtlMs` keeps it and no second leader starts elsewhere. The leader's own silence bound (the stream idle
   * timeout, the provider's timeout) is what ends a stuck call; the lock only mirrors that it is still alive. A lost
   * lock (expired during a Redis outage and taken by another owner) is not extended again.
   */
  protected keepLock(lockKey: string, token: string): { stop(): void } {
    const { lockTtlMs } = this.options.coalescing;
    let stopped = false;
    const timer = setInterval(
      () => {
        void this.cache.extendLock(lockKey, token, lockTtlMs).then((held) => {
          if (!held && !stopped && this.cache.isAvailable()) {
            stopped = true;
            clearInterval(timer);
          }
        });
      },
      Math.max(1, Math.floor(lockTtlMs / 3)),
    );
    timer.unref();
    return {
      stop: () => {
        stopped = true;
        clearInterval(timer);
      },
    };
  }

  /**
   * Polls until the other process's leader is done: its entry as soon as it is stored (one GET per tick, so a lock
   * left behind by a dead or detached leader costs one tick, not the whole wait), `released` when the lock is gone
   * with no entry (it failed), or `timeout`.
   */
  protected async waitForRemoteLeader(
    plan: LlmCallPlan,
    deadline: number,
  ): Promise<Found | 'released' | 'timeout'> {
    const { pollIntervalMs } = this.options.coalescing;
    while (Date.now() < deadline) {
      await sleep(Math.min(pollIntervalMs, Math.max(0, deadline - Date.now())), plan.signal);
      const [found, held] = await Promise.all([
        this.entries.lookup(plan, true),
        this.cache.exists(plan.lockKey!),
      ]);
      if (found) return found;
      // Redis stopped answering: stop waiting for it and call the provider.
      if (held === undefined) return 'timeout';
      if (held) continue;
      // The entry may have landed between the two replies.
      return (await this.entries.lookup(plan, true)) ?? 'released';
    }
    return 'timeout';
  }

  /** A leader nobody waits for (coalescing off, a refresh, or the wait for another leader gave up). */
  protected runAlone<R>(plan: LlmCallPlan, lead: Lead<R>): Promise<R> {
    return this.runLeader(
      lead,
      async (handoff, store, onSent) => {
        const write =
          store && typeof handoff === 'object' ? await this.entries.sendStore(plan, handoff) : NOT_SENT;
        onSent?.(write.sent);
        return write.written;
      },
      () => 0,
    );
  }

  protected async runLeader<R>(
    lead: Lead<R>,
    release: Release,
    followers: () => number,
    boundMs?: number,
  ): Promise<R> {
    let released = false;
    const once: Release = async (handoff, store, onSent) => {
      if (released) {
        onSent?.(false);
        return false;
      }
      released = true;
      return release(handoff, store, onSent);
    };
    try {
      return await lead(once, followers, boundMs);
    } catch (err) {
      await once();
      throw err;
    }
  }
}
