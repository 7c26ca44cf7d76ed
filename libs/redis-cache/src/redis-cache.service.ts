import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { CacheBackend } from './cache-backend.interface.js';
import { decodeEntry, encodeEntry, encodeEntrySync, entryByteLength } from './cache-entry.codec.js';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import { CommandDeadline } from './command-deadline.js';
import { REDIS_CACHE_BACKEND, REDIS_CACHE_RESOLVED_OPTIONS } from './redis-cache.constants.js';
import type {
  CacheSetOptions,
  CacheStats,
  RedisInfoSummary,
  ResolvedRedisCacheOptions,
} from './redis-cache.interfaces.js';
import {
  describeRedisError,
  RedisUnavailableError,
  type DeleteByPatternResult,
} from './redis-cache.errors.js';
import { RedisCacheMetrics } from './redis-cache.metrics.js';
import { parseRedisInfo, summarizeInfo } from './redis-info.parser.js';

/** Stats hashes live long but not forever: every key this module writes has a TTL. */
const STATS_TTL_MS = 30 * 24 * 60 * 60 * 1000;
const FAILURE_LOG_INTERVAL_MS = 10_000;
const SUSPECT_PROBE_INTERVAL_MS = 20;
const MAX_PATTERN_LENGTH = 512;
/** A pattern delete is an admin operation, not bounded by `commandTimeoutMs` but by this deadline by default. */
const DEFAULT_DELETE_DEADLINE_MS = 30_000;
/** How long past its deadline a pattern delete may take to finish its page in flight before it counts as hung. */
const DELETE_GRACE_MS = 5_000;

/** `requireRedis: true` → a `RedisUnavailableError` instead of the fail-open empty answer. */
export interface RequireRedisOption {
  requireRedis?: boolean;
}

export type LockResult =
  | { status: 'acquired'; token: string }
  | { status: 'held' }
  /** Redis could not be asked: the caller should proceed on its own rather than wait. */
  | { status: 'unavailable' };

/** `acquireLockUnlessPresent`: the entry when it exists (no lock taken), else what `acquireLock` would say. */
export type LockUnlessPresentResult<T> =
  | LockResult
  /** The entry exists; `value` is undefined when it could not be decoded. */
  | { status: 'present'; value: T | undefined };

/**
 * A write handed to Redis without waiting for its reply (`sendSet`, `sendSetAndReleaseLock`): the caller may answer
 * its own client while Redis applies it.
 */
export interface SentWrite {
  /** Whether the command was sent; false when it was dropped before (Redis unavailable, over `maxEntryBytes`). */
  sent: boolean;
  /** Resolves once Redis replied: whether the value was written. Never rejects. */
  written: Promise<boolean>;
}

const NOT_SENT: SentWrite = { sent: false, written: Promise.resolve(false) };

class CacheTimeoutError extends Error {}

/**
 * The cache's service layer (the seed's redis_service, the Nest way). Every call is fail-open: bounded by
 * `commandTimeoutMs`, guarded by a circuit breaker, and on any Redis failure it resolves to a miss / a dropped write
 * instead of throwing into the caller. Keys are always `<keyPrefix>:<key>`.
 */
@Injectable()
export class RedisCacheService implements OnModuleInit, OnApplicationShutdown {
  protected readonly logger = new Logger('RedisCacheService');
  protected readonly breaker: CircuitBreaker;
  /** Undefined when `adaptiveTimeout: false`: every command then waits up to `commandTimeoutMs`. */
  protected readonly deadline?: CommandDeadline;
  private readonly pendingCounters = new Map<string, Record<string, number>>();
  private statsTimer?: NodeJS.Timeout;
  private lastFailureLogMs = 0;
  /** A request-path command timed out and no PING has answered since (see `suspectUntilPing`). */
  private suspect = false;
  /** When the last command answered, on the event loop's idle clock: the adaptive deadline counts silence since. */
  private lastReplyIdleMs = 0;
  private closing = false;
  private suppressedFailures = 0;
  /** The last failure's `CAUSE: message`, so "unavailable" can say why even while the breaker skips Redis. */
  private lastFailure?: string;
  /** Connection errors are logged once per distinct cause until the connection is back. */
  private loggedConnectionCause?: string;
  private suppressedConnectionErrors = 0;
  /** The breaker's state as last announced in the log: a failed half-open probe is no news. */
  private announcedBreakerState: 'closed' | 'open' = 'closed';

  constructor(
    @Inject(REDIS_CACHE_BACKEND) protected readonly backend: CacheBackend,
    @Inject(REDIS_CACHE_RESOLVED_OPTIONS) readonly options: ResolvedRedisCacheOptions,
    protected readonly metrics: RedisCacheMetrics,
  ) {
    this.breaker = new CircuitBreaker(
      options.breaker.failureThreshold,
      options.breaker.resetTimeoutMs,
      (state) => this.onBreakerChange(state),
    );
    if (options.adaptiveTimeout) {
      this.deadline = new CommandDeadline({ capMs: options.commandTimeoutMs, ...options.adaptiveTimeout });
    }
    backend.onStateChange((state) => {
      this.metrics.setConnectionStatus(state);
      // A fresh, ready connection is proof enough that Redis is back: stop skipping it.
      if (state === 'connected') {
        this.breaker.reset();
        this.onReconnected();
      }
    });
    backend.onError?.((err) => this.logConnectionError(err));
  }

  async onModuleInit(): Promise<void> {
    const connected = await this.connect();
    if (this.options.mode === 'memory') {
      this.logger.warn('No Redis configured: caching in process memory (single process, not shared).');
    } else if (!connected) {
      this.logger.warn(
        `Redis (${this.options.mode}) not reachable at start-up; serving without cache until it is.`,
      );
    }
    this.statsTimer = setInterval(() => void this.flushCounters(), this.options.statsFlushIntervalMs);
    this.statsTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    await this.flushCounters();
    await this.disconnect();
  }

  /** Connects (bounded by `connectTimeoutMs`); never throws. Resolves to whether Redis is ready. */
  async connect(): Promise<boolean> {
    if (this.backend.kind === 'memory') return true;
    this.metrics.setConnectionStatus('connecting');
    try {
      await withTimeout(this.backend.connect(), this.options.connectTimeoutMs);
    } catch (err) {
      this.logger.debug?.(`connect: ${(err as Error).message}`);
    }
    const ready = this.backend.isReady();
    if (ready) this.metrics.setConnectionStatus('connected');
    return ready;
  }

  async disconnect(): Promise<void> {
    try {
      await withTimeout(this.backend.disconnect(), this.options.connectTimeoutMs);
    } catch {
      /* the process is going away; nothing to save */
    }
    this.metrics.setConnectionStatus('disconnected');
  }

  isConnected(): boolean {
    return this.backend.isReady();
  }

  /** Whether a cache call would be attempted now (connected and the breaker not open). */
  isAvailable(): boolean {
    return this.backend.isReady() && this.breaker.current !== 'open';
  }

  get mode(): ResolvedRedisCacheOptions['mode'] {
    return this.options.mode;
  }

  getCircuitState(): CircuitState {
    return this.breaker.current;
  }

  /** The stored key for a logical key. */
  fullKey(key: string): string {
    return `${this.options.keyPrefix}:${key}`;
  }

  /**
   * A hit returns the value; a miss, a decode error or a Redis failure returns undefined (and counts as a miss,
   * unless `countStats: false`, e.g. for polling).
   */
  async get<T>(key: string, options: { countStats?: boolean } = {}): Promise<T | undefined> {
    const raw = await this.run('get', () => this.backend.get(this.fullKey(key)), null);
    const value = raw === null ? undefined : await this.decode<T>(key, raw);
    if (options.countStats !== false) this.count('stats', value === undefined ? { misses: 1 } : { hits: 1 });
    return value;
  }

  /** One MGET round trip; misses are undefined. */
  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    const raws = await this.run('mget', () => this.backend.mget(keys.map((k) => this.fullKey(k))), null);
    if (!raws) {
      this.count('stats', { misses: keys.length });
      return keys.map(() => undefined);
    }
    const values = await Promise.all(raws.map((raw, i) => (raw ? this.decode<T>(keys[i], raw) : undefined)));
    const hits = values.filter((v) => v !== undefined).length;
    this.count('stats', { hits, misses: keys.length - hits });
    return values;
  }

  /**
   * JSON-serializes (gzip above `compressThresholdBytes`) and writes with a TTL. Resolves false when the write was
   * dropped: Redis unavailable, entry over `maxEntryBytes`, or `onlyIfAbsent` and the key existed.
   */
  async set(key: string, value: unknown, options: CacheSetOptions = {}): Promise<boolean> {
    return (await this.sendSet(key, value, options)).written;
  }

  /**
   * `set` without waiting for Redis' reply: resolves as soon as the write is sent (queued on the connection, so any
   * later command of this process — a `get` of the same key — is answered after it), with `written` to await the
   * outcome. `sent: false` when it was dropped before sending (unavailable, over `maxEntryBytes`).
   */
  async sendSet(key: string, value: unknown, options: CacheSetOptions = {}): Promise<SentWrite> {
    const ttlMs = this.resolveTtl(options.ttlMs);
    // `dispatchNow`: nothing may be awaited before the command is issued (an await would hand the tick back).
    const encoded = options.dispatchNow
      ? this.encodeForStoreSync(key, value)
      : await this.encodeForStore(key, value);
    if (encoded === undefined) return NOT_SENT;
    const onlyIfAbsent = !!options.onlyIfAbsent;
    const dispatchNow = !!options.dispatchNow;
    return this.send('set', (sent) => {
      sent();
      return this.backend.set(this.fullKey(key), encoded, ttlMs, onlyIfAbsent, dispatchNow);
    });
  }

  /** Raw string access for stores that serialize themselves (the Keyv store behind CACHE_MANAGER). */
  async getRaw(key: string): Promise<string | undefined> {
    const raw = await this.run('get', () => this.backend.get(this.fullKey(key)), null);
    return raw === null ? undefined : raw.toString('utf8');
  }

  async setRaw(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const ttl = this.resolveTtl(ttlMs);
    return this.run('set', () => this.backend.set(this.fullKey(key), value, ttl, false), false);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run('delete', () => this.backend.delete([this.fullKey(key)]), 0)) > 0;
  }

  /**
   * Deletes every key matching a Redis glob *under the module's prefix* (`deleteByPattern('llm:*')` deletes
   * `<prefix>:llm:*`), with SCAN + UNLINK on every master — never KEYS or FLUSHDB. Not bounded by
   * `commandTimeoutMs` (it is an admin operation) but by `deadlineMs`: a scan cut by it resolves to
   * `{ deleted: <so far>, complete: false }`. Redis unavailable (or failing mid-scan) rejects with
   * `RedisUnavailableError` (its `deletedBeforeFailure` says what was deleted already), never with a silent 0.
   */
  async deleteByPattern(
    pattern: string,
    options: { deadlineMs?: number } = {},
  ): Promise<DeleteByPatternResult> {
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) {
      throw new RangeError(`pattern must be a non-empty string of at most ${MAX_PATTERN_LENGTH} characters`);
    }
    const deadlineMs = options.deadlineMs ?? DEFAULT_DELETE_DEADLINE_MS;
    if (!Number.isFinite(deadlineMs) || deadlineMs <= 0)
      throw new RangeError(`deadlineMs must be a positive number, got ${deadlineMs}`);
    const match = `${escapeGlob(this.options.keyPrefix)}:${pattern}`;
    let deleted = 0;
    try {
      return await this.attempt(
        'clear',
        () =>
          this.backend.scanDelete(match, {
            deadlineAtMs: Date.now() + deadlineMs,
            onDeleted: (n) => (deleted += n),
          }),
        deadlineMs + DELETE_GRACE_MS,
      );
    } catch (err) {
      const unavailable = err as RedisUnavailableError;
      throw new RedisUnavailableError(unavailable.reason, deleted, { cause: unavailable.cause });
    }
  }

  /**
   * `deleteByPattern()` failing open (for callers that only want best effort): the count deleted, whatever was
   * deleted before a failure, 0 when Redis is unavailable.
   */
  async clear(pattern = '*'): Promise<number> {
    try {
      return (await this.deleteByPattern(pattern)).deleted;
    } catch (err) {
      if (err instanceof RedisUnavailableError) return err.deletedBeforeFailure;
      throw err;
    }
  }

  /**
   * SET NX PX with a random owner token. When the SET timed out (`unavailable`), a DEL of that token follows in
   * the background: a slow server may still apply the SET, and a lock nobody knows it owns
   * would make every other process wait for its expiry.
   */
  async acquireLock(key: string, ttlMs: number): Promise<LockResult> {
    const token = randomUUID();
    const attempt = await this.tryLock(key, token, () =>
      this.backend.set(this.fullKey(key), token, ttlMs, true),
    );
    if (!attempt.ok) return { status: 'unavailable' };
    return attempt.reply ? { status: 'acquired', token } : { status: 'held' };
  }

  /**
   * `acquireLock` and a read of `entryKey` in one round trip (one script): a leader that lost the race to a
   * stored answer reads it instead of taking the lock. Both keys must share a cluster slot (hash tag). Hit/miss
   * counters are left alone: this re-checks a lookup that was already counted.
   */
  async acquireLockUnlessPresent<T>(
    lockKey: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<LockUnlessPresentResult<T>> {
    const token = randomUUID();
    const attempt = await this.tryLock(lockKey, token, () =>
      this.backend.lockUnlessPresent(this.fullKey(lockKey), token, ttlMs, this.fullKey(entryKey)),
    );
    if (!attempt.ok) return { status: 'unavailable' };
    const { reply } = attempt;
    if (Buffer.isBuffer(reply)) return { status: 'present', value: await this.decode<T>(entryKey, reply) };
    return reply ? { status: 'acquired', token } : { status: 'held' };
  }

  /**
   * `set` and `releaseLock` in one round trip (one script): the entry is written before the lock goes, atomically,
   * so a process waiting on the lock finds the entry the moment the lock is gone. The lock is released even when
   * the entry is not written (over `maxEntryBytes`, or not encodable). Resolves whether the entry was written.
   */
  async setAndReleaseLock(
    key: string,
    value: unknown,
    options: CacheSetOptions & { lockKey: string; token: string },
  ): Promise<boolean> {
    return (await this.sendSetAndReleaseLock(key, value, options)).written;
  }

  /**
   * `setAndReleaseLock` without waiting for Redis' reply: resolves as soon as the script is sent (see `sendSet`),
   * with `written` to await the outcome. An entry dropped before sending still has its lock released.
   */
  async sendSetAndReleaseLock(
    key: string,
    value: unknown,
    options: CacheSetOptions & { lockKey: string; token: string },
  ): Promise<SentWrite> {
    const { lockKey, token } = options;
    let encoded: Buffer | string | undefined;
    let ttlMs: number;
    try {
      ttlMs = this.resolveTtl(options.ttlMs);
      encoded = await this.encodeForStore(key, value);
    } catch (err) {
      await this.releaseLock(lockKey, token);
      throw err;
    }
    if (encoded === undefined) {
      void this.releaseLock(lockKey, token);
      return NOT_SENT;
    }
    const entry = encoded;
    return this.send(
      'set',
      (sent) => {
        sent();
        return this.backend.setAndDeleteIfEquals(
          this.fullKey(key),
          entry,
          ttlMs,
          this.fullKey(lockKey),
          token,
        );
      },
      // A refused script (not a timeout: a hung server may still run it) leaves the lock: drop it on its own.
      (err) => {
        if (err !== undefined && !isTimeout(err)) void this.releaseLock(lockKey, token);
      },
    );
  }

  /** Releases a lock only if this owner still holds it (an expired lock taken by another owner is left alone). */
  async releaseLock(key: string, token: string): Promise<boolean> {
    return this.run('unlock', () => this.backend.deleteIfEquals(this.fullKey(key), token), false);
  }

  /**
   * Extends a lock's expiry to `ttlMs` from now, only while this owner still holds it (a Lua GET + PEXPIRE):
   * a leader that is still working keeps its lock, and an expired lock taken over by another owner is left alone.
   * False when the lock is no longer ours or Redis is unavailable.
   */
  async extendLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return this.run('lock-extend', () => this.backend.expireIfEquals(this.fullKey(key), token, ttlMs), false);
  }

  /** Whether a key exists (EXISTS: the value never travels), without counting a hit or miss; undefined on failure. */
  async exists(key: string): Promise<boolean | undefined> {
    let failed = false;
    const count = await this.run(
      'exists',
      () => this.backend.exists([this.fullKey(key)]),
      0,
      undefined,
      () => (failed = true),
    );
    return failed ? undefined : count > 0;
  }

  /**
   * Adds to shared counters kept in a Redis hash (`<prefix>:<hashKey>`). Batched in-process and flushed every
   * `statsFlushIntervalMs`, so counting costs no round trip on the request path.
   */
  count(hashKey: string, fields: Record<string, number>): void {
    const pending = this.pendingCounters.get(hashKey) ?? {};
    for (const [f, by] of Object.entries(fields)) if (by) pending[f] = (pending[f] ?? 0) + by;
    this.pendingCounters.set(hashKey, pending);
  }

  /**
   * Reads shared counters (after flushing this instance's pending increments). Empty when Redis is unavailable,
   * unless `requireRedis` (then `RedisUnavailableError`, so an admin endpoint does not report zeros as the truth).
   */
  async readCounters(hashKey: string, options: RequireRedisOption = {}): Promise<Record<string, number>> {
    await this.flushCounters();
    const read = () => this.backend.getHash(this.fullKey(hashKey));
    const hash = options.requireRedis
      ? await this.attempt('hgetall', read, this.options.commandTimeoutMs)
      : await this.run('hgetall', read, {});
    return Object.fromEntries(Object.entries(hash).map(([f, v]) => [f, Number(v)]));
  }

  async resetCounters(hashKey: string): Promise<void> {
    this.pendingCounters.delete(hashKey);
    await this.run('delete', () => this.backend.delete([this.fullKey(hashKey)]), 0);
  }

  /** Hits and misses of `get`/`getMany`, shared by every instance using the same Redis and prefix. */
  async getStats(): Promise<CacheStats> {
    const { hits = 0, misses = 0 } = await this.readCounters('stats');
    const total = hits + misses;
    return { hits, misses, hitRatio: total === 0 ? 0 : hits / total };
  }

  async resetStats(): Promise<void> {
    await this.resetCounters('stats');
  }

  /** Sends this instance's batched counter increments now. */
  async flushCounters(): Promise<void> {
    if (this.pendingCounters.size === 0) return;
    const batches = [...this.pendingCounters];
    this.pendingCounters.clear();
    await Promise.all(
      batches.map(([hashKey, fields]) =>
        this.run(
          'hincrby',
          () => this.backend.incrementHash(this.fullKey(hashKey), fields, STATS_TTL_MS),
          undefined,
          undefined,
          // Kept for the next flush rather than lost while Redis is away (a sum per field, so it cannot grow) —
          // unless the command timed out: a hung server may still apply it, and counting twice is worse.
          (err) => {
            if (!isTimeout(err)) this.count(hashKey, fields);
          },
        ),
      ),
    );
  }

  /**
   * Parsed `INFO` (per master on a cluster) with a summary; `connected: false` when Redis is unavailable, or
   * `RedisUnavailableError` (with the reason) when `requireRedis`.
   */
  async getCacheInfo(options: RequireRedisOption = {}): Promise<RedisInfoSummary> {
    const infos = options.requireRedis
      ? await this.attempt('info', () => this.backend.info(), 5_000)
      : await this.run('info', () => this.backend.info(), null, 5_000);
    if (!infos) return { mode: this.options.mode, connected: false, nodes: [] };
    const nodes = infos.map(({ address, text }) => ({ address, info: parseRedisInfo(text) }));
    return { mode: this.options.mode, connected: true, ...summarizeInfo(nodes.map((n) => n.info)), nodes };
  }

  /** The deadline (ms) the next request-path command gets: adaptive, or `commandTimeoutMs`. */
  currentCommandTimeoutMs(): number {
    return this.deadline?.currentMs ?? this.options.commandTimeoutMs;
  }

  /** PING bounded by `timeoutMs`; resolves to the latency in ms, rejects on failure (for health checks). */
  async ping(timeoutMs = this.options.commandTimeoutMs * 4): Promise<number> {
    const start = performance.now();
    await withTimeout(this.backend.ping(), timeoutMs);
    return performance.now() - start;
  }

  /** The encoded value, or undefined (logged) when it is over `maxEntryBytes`; throws when not encodable. */
  private async encodeForStore(key: string, value: unknown): Promise<Buffer | string | undefined> {
    return this.fitsEntry(key, await encodeEntry(value, this.options.compressThresholdBytes));
  }

  /** `encodeForStore` on this tick (gzip, when needed, blocks instead of going to the thread pool). */
  private encodeForStoreSync(key: string, value: unknown): Buffer | string | undefined {
    return this.fitsEntry(key, encodeEntrySync(value, this.options.compressThresholdBytes));
  }

  private fitsEntry(key: string, encoded: Buffer | string): Buffer | string | undefined {
    if (entryByteLength(encoded) <= this.options.maxEntryBytes) return encoded;
    this.logger.warn(`not caching ${key}: ${entryByteLength(encoded)} bytes > maxEntryBytes`);
    return undefined;
  }

  /**
   * Starts one write under `run` and returns at once: `sent` says whether the command reached a ready connection
   * (`call` reports it just before calling the backend; the breaker or the fail-fast state may refuse it first),
   * `written` whether Redis applied it (never rejects).
   */
  private send(
    operation: string,
    call: (sent: () => void) => Promise<unknown>,
    onFailure?: (err?: unknown) => void,
  ): SentWrite {
    let sent = false;
    let failed = false;
    const written = this.run(
      operation,
      () => call(() => (sent = this.backend.isReady())),
      undefined,
      undefined,
      (err) => {
        failed = true;
        onFailure?.(err);
      },
      // A backend's `false` is a write it did not apply (SET NX on an existing key): not written either.
    ).then((reply) => !failed && reply !== false);
    return { sent, written };
  }

  /**
   * One lock-taking call under the breaker and deadline. A call that timed out may still be applied by a slow
   * server, so its token is deleted in the background: a lock nobody knows it owns would make every other process
   * wait for its expiry.
   */
  private async tryLock<R>(
    lockKey: string,
    token: string,
    call: () => Promise<R>,
  ): Promise<{ ok: true; reply: R } | { ok: false }> {
    let failed = false;
    let timedOut = false;
    const reply = await this.run<R | undefined>('lock', call, undefined, undefined, (err) => {
      failed = true;
      timedOut = err !== undefined && isTimeout(err);
    });
    if (!failed) return { ok: true, reply: reply as R };
    if (timedOut) void this.releaseLock(lockKey, token);
    return { ok: false };
  }

  /**
   * Runs one backend call under the breaker, the timeout and the metrics. Never rejects: on failure it returns
   * `fallback`. Subclasses may override to add tracing or change the policy.
   */
  protected async run<T>(
    operation: string,
    call: () => Promise<T>,
    fallback: T,
    timeoutMs?: number,
    onFailure?: (err?: unknown) => void,
  ): Promise<T> {
    try {
      return await this.attempt(operation, call, timeoutMs);
    } catch (err) {
      // `cause` is undefined when the breaker skipped the call (nothing was sent).
      onFailure?.((err as RedisUnavailableError).cause);
      return fallback;
    }
  }

  /**
   * `run` without the fallback: the same breaker, timeout, metrics and logging, but a failure rejects with
   * `RedisUnavailableError` naming the cause. For the few callers that must tell "unavailable" from "empty".
   * Without `timeoutMs` (the request path) the deadline is the adaptive one.
   */
  protected async attempt<T>(operation: string, call: () => Promise<T>, timeoutMs?: number): Promise<T> {
    // Request-path commands (no explicit timeout) are the ones the adaptive deadline and the fail-fast state govern.
    const requestPath = timeoutMs === undefined && this.deadline !== undefined;
    // After a timeout, until a PING proves Redis answers again, request-path commands fail fast: a request pays at
    // most the one deadline it was already waiting on, never one per command (lookup, lock, store). Checked before
    // the breaker: while the PINGs probe, a request must not become the breaker's half-open probe and wait the cap.
    if (requestPath && this.suspect) {
      throw new RedisUnavailableError('a command timed out and Redis has not answered a PING since');
    }
    if (!this.breaker.tryAcquire()) {
      const last = this.lastFailure ? ` (last failure: ${this.lastFailure})` : '';
      throw new RedisUnavailableError(`circuit breaker open, Redis not tried${last}`);
    }
    // Request-path commands get the adaptive deadline; a breaker probe gets the cap, so a Redis that is slower than
    // before (not hung) can prove it is back.
    const adaptive = requestPath && this.breaker.current === 'closed';
    const deadlineMs = timeoutMs ?? (adaptive ? this.deadline!.currentMs : this.options.commandTimeoutMs);
    const start = performance.now();
    const idleStartMs = eventLoopIdleMs();
    const pending = invoke(call);
    try {
      const result = await withTimeout(
        pending,
        deadlineMs,
        adaptive
          ? {
              idleClockMs: eventLoopIdleMs,
              lastReplyIdleMs: () => this.lastReplyIdleMs,
              capMs: this.options.commandTimeoutMs,
            }
          : undefined,
      );
      this.lastReplyIdleMs = eventLoopIdleMs();
      const ms = performance.now() - start;
      this.breaker.recordSuccess();
      // In idle time: how long this process had to wait for it with nothing else to do.
      if (timeoutMs === undefined) this.deadline?.recordSuccess(this.lastReplyIdleMs - idleStartMs);
      this.suspect = false;
      this.metrics.recordOperation(operation, true, ms);
      return result;
    } catch (err) {
      // ioredis' own `commandTimeout` ("Command timed out") may fire first: a timeout all the same.
      if (requestPath && isTimeout(err)) {
        this.onCommandTimeout(deadlineMs);
        // A reply that still comes tells how long this wait would have had to be (see `recordLateReply`).
        pending.then(
          () =>
            this.deadline?.recordLateReply(
              eventLoopIdleMs() - idleStartMs,
              performance.now() - start <= this.options.commandTimeoutMs,
            ),
          () => undefined,
        );
      }
      this.breaker.recordFailure();
      this.metrics.recordOperation(operation, false, performance.now() - start);
      const described = this.describeFailure(err);
      this.lastFailure = described;
      this.logFailure(operation, described);
      throw new RedisUnavailableError(described, 0, { cause: err });
    }
  }

  /**
   * The connection stayed silent past a request-path deadline. Once per silence, the deadline counts it as one
   * sample at its value: the other commands timing out in the same silence say nothing more about Redis' latency,
   * and counting each would hold the deadline at the cap for hundreds of commands after a short hang. New commands
   * fail fast until a PING answers. Commands already waiting keep their own deadline (counted from their own send
   * or the last reply): failing them at once as well saves a hang's onset nothing in the worst case (each request
   * pays one deadline at most either way), but turned every short stall of a busy Redis into a miss for every
   * request in flight — measured: 30 extra misses per stall at 32 connections.
   */
  private onCommandTimeout(deadlineMs: number): void {
    if (this.suspect) return;
    this.deadline?.recordTimeout(deadlineMs);
    this.suspectUntilPing();
  }

  /**
   * Enters the fail-fast state after a timeout and PINGs (bounded by `commandTimeoutMs`, every
   * `SUSPECT_PROBE_INTERVAL_MS`) until Redis answers. The PING's latency is not a deadline sample: sent into the
   * silence, it measures what was left of the stall, not Redis' latency (a Redis that is slower, not hung, raises
   * the deadline through the one timeout sample each silence leaves).
   */
  private suspectUntilPing(): void {
    if (this.suspect) return;
    this.suspect = true;
    void (async () => {
      while (this.suspect && !this.closing) {
        try {
          await withTimeout(this.backend.ping(), this.options.commandTimeoutMs);
          this.lastReplyIdleMs = eventLoopIdleMs();
          this.suspect = false;
          this.breaker.recordSuccess();
        } catch {
          // The probes' failures open the breaker (state, health and metrics show the outage) as commands' would.
          this.breaker.recordFailure();
          await new Promise((r) => setTimeout(r, SUSPECT_PROBE_INTERVAL_MS).unref());
        }
      }
    })();
  }

  protected resolveTtl(ttlMs: number | undefined): number {
    if (ttlMs === undefined) return this.options.defaultTtlMs;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0)
      throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
    return ttlMs;
  }

  private async decode<T>(key: string, raw: Buffer): Promise<T | undefined> {
    try {
      return await decodeEntry<T>(raw);
    } catch (err) {
      // An entry we cannot read is treated as absent (and overwritten on the next miss), never as an error.
      this.logger.warn(`unreadable entry ${key}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Logs once per real state change: closed → open and back. A failed half-open probe (half-open → open) is the
   * same outage continuing; logging it would print a line every `resetTimeoutMs` for as long as Redis is down.
   */
  private onBreakerChange(state: CircuitState): void {
    this.metrics.setBreakerState(state);
    if (state === 'open' && this.announcedBreakerState === 'closed') {
      this.announcedBreakerState = 'open';
      const last = this.lastFailure ? ` (last failure: ${this.lastFailure})` : '';
      this.logger.warn(`Redis circuit breaker opened: skipping the cache until a probe succeeds${last}`);
    } else if (state === 'closed' && this.announcedBreakerState === 'open') {
      this.announcedBreakerState = 'closed';
      this.logger.log('Redis circuit breaker closed: cache back in use');
    }
  }

  /**
   * `CAUSE: message`. A command on a connection that never came up fails with a generic "Stream isn't writeable";
   * the cause (WRONGPASS, DNS, TLS) was in the connection's own error, so that one is named instead.
   */
  private describeFailure(err: unknown): string {
    const described = describeRedisError(err);
    if (this.loggedConnectionCause && /^(DISCONNECTED|UNKNOWN):/.test(described))
      return `${described} (connection: ${this.loggedConnectionCause})`;
    return described;
  }

  private logFailure(operation: string, described: string): void {
    const now = Date.now();
    if (now - this.lastFailureLogMs < FAILURE_LOG_INTERVAL_MS) {
      this.suppressedFailures++;
      return;
    }
    const suppressed = this.suppressedFailures ? ` (+${this.suppressedFailures} similar)` : '';
    this.logger.warn(`Redis ${operation} failed, serving without cache: ${described}${suppressed}`);
    this.lastFailureLogMs = now;
    this.suppressedFailures = 0;
  }

  /** Connection errors repeat on every reconnect attempt: logged once per distinct cause until reconnected. */
  private logConnectionError(err: Error): void {
    const described = describeRedisError(err);
    this.lastFailure = described;
    const cause = described.slice(0, described.indexOf(':'));
    if (this.loggedConnectionCause?.startsWith(`${cause}:`)) {
      this.suppressedConnectionErrors++;
      return;
    }
    this.loggedConnectionCause = described;
    this.suppressedConnectionErrors = 0;
    this.logger.warn(`Redis connection error, serving without cache: ${described}`);
  }

  private onReconnected(): void {
    if (!this.loggedConnectionCause) return;
    const repeats = this.suppressedConnectionErrors ? ` (${this.suppressedConnectionErrors} repeats)` : '';
    this.logger.log(`Redis connection ready again after: ${this.loggedConnectionCause}${repeats}`);
    this.loggedConnectionCause = undefined;
    this.suppressedConnectionErrors = 0;
  }
}

/** How `withTimeout` tells silence (a hung connection) from waiting in line behind other commands. */
export interface ConnectionLiveness {
  /**
   * A clock (ms) that advances only while this process waits with nothing to do: the event loop's idle time. The
   * silence is counted on it, so a busy event loop (a burst of requests, GC) does not use up a command's deadline —
   * a reply that arrived meanwhile is read before the deadline is checked.
   */
  idleClockMs: () => number;
  /** The idle clock's reading when the connection last answered anything. */
  lastReplyIdleMs: () => number;
  /** Never waits longer than this (wall time) in total, however lively the connection or busy the process. */
  capMs: number;
}

/** The event loop's idle time (ms) so far: the clock `ConnectionLiveness` counts silence on. */
export function eventLoopIdleMs(): number {
  return performance.eventLoopUtilization().idle;
}

/**
 * Rejects after `ms`; the late outcome of the original promise is swallowed. With `liveness`, `ms` counts silence
 * rather than elapsed time: while the connection keeps answering other commands (the last reply is less than `ms`
 * of idle time old), a command queued behind them under load is still waiting its turn, not hung — it may wait up
 * to `capMs`.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, liveness?: ConnectionLiveness): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const start = performance.now();
  const idleStart = liveness?.idleClockMs() ?? 0;
  /** What is left of the deadline now: of the silence and of the cap with liveness, else of `ms`. */
  const leftMs = () => {
    const elapsedMs = performance.now() - start;
    if (!liveness) return ms - elapsedMs;
    const quietMs = liveness.idleClockMs() - Math.max(idleStart, liveness.lastReplyIdleMs());
    return Math.min(ms - quietMs, liveness.capMs - elapsedMs);
  };
  const timeout = new Promise<never>((_, reject) => {
    const expire = () => {
      if (settled) return;
      if (liveness && leftMs() > 0) {
        timer = setTimeout(expire, leftMs());
        return;
      }
      // setImmediate: when the timer fires late because the event loop was busy (GC, a burst of requests), the
      // reply may already be waiting in the socket; the poll phase reads it before the check phase rejects — and
      // so are other commands' replies, which prove the connection alive (the silence is measured again).
      setImmediate(() => {
        if (settled) return;
        if (liveness && leftMs() > 0) timer = setTimeout(expire, leftMs());
        else reject(new CacheTimeoutError(`timed out after ${ms} ms`));
      });
    };
    timer = setTimeout(expire, ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => {
    settled = true;
    clearTimeout(timer);
  });
}

/** `call()`, with a synchronous throw turned into a rejection. */
function invoke<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof CacheTimeoutError || /timed out/i.test((err as Error | undefined)?.message ?? '');
}

/** Escapes Redis glob metacharacters so a prefix is matched literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
