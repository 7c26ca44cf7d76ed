import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { RedisCacheService } from '@llm-cache/redis-cache';
import type { CacheControl } from './cache-control.js';
import { ChunkBroadcast } from './chunk-broadcast.js';
import { CacheKeyPolicy, type CacheKeyExplanation } from './cache-key.policy.js';
import { isCacheableUnder } from './determinism.policy.js';
import { LlmCacheMissError } from './llm-cache.errors.js';
import type {
  GenerateOptions,
  LlmCacheResult,
  LlmCacheStats,
  LlmCacheStatus,
  LlmStreamResult,
  ResolvedLlmCacheOptions,
} from './llm-cache.interfaces.js';
import { LlmCacheMetrics, type LlmCacheResultLabel } from './llm-cache.metrics.js';
import type { LlmProvider } from './llm-provider.interface.js';
import { callerAborted, LlmProviderError, toLlmProviderError } from './llm-provider.error.js';
import { LlmRequestContext } from './llm-request.context.js';
import {
  DEFAULT_TENANT,
  LLM_CACHE_RESOLVED_OPTIONS,
  LLM_KEY_NAMESPACE,
  LLM_LOCK_NAMESPACE,
  LLM_PROVIDER,
  LLM_STATS_HASH,
} from './llm.constants.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from './llm.types.js';
import { PriceTable } from './pricing.js';
import { RequestCoalescer, type Flight } from './request-coalescer.js';
import { validateChatCompletionRequest } from './request.validator.js';
import {
  chunkForClient,
  entryToChunks,
  entryToCompletion,
  entryUsage,
  hasFinished,
  isCompleteStream,
  isStorableFinish,
  isWellFormedChunk,
  isWellFormedCompletion,
  type LlmCacheEntry,
} from './stream.codec.js';

/** Everything one call needs, resolved from its arguments, the request context and the module options. */
export interface LlmCallPlan {
  request: ChatCompletionRequest;
  provider: LlmProvider;
  tenant: string;
  control: CacheControl;
  ttlMs: number;
  signal?: AbortSignal;
  /** Undefined when the call bypasses the cache. */
  key?: string;
  lockKey?: string;
  startMs: number;
}

interface Found {
  entry: LlmCacheEntry;
  ageMs: number;
}

type Coordinated<R> = { role: 'follower'; found: Found } | { role: 'leader'; result: R };
/**
 * Leaders call this exactly once: with their entry (followers get it, stored or not: it answers their identical
 * request), `'alone'` (a success with nothing to share: followers call the provider themselves, concurrently) or
 * nothing (a failure: one follower leads next).
 */
type Release = (handoff?: LlmCacheEntry | 'alone') => Promise<void>;
/**
 * A leader's work: `release` as above; `followers()` counts the callers of this process waiting for it now;
 * `boundMs`, when others may wait for it (a flight and a lock), is how long its work may take at most.
 */
type Lead<R> = (release: Release, followers: () => number, boundMs?: number) => Promise<R>;

/** A follower re-tries after a failed leader at most this often before calling the provider itself. */
const MAX_LEADER_ATTEMPTS = 5;
/**
 * A stream's capture is kept for storage up to maxEntryBytes of raw JSON times this when the entry would be
 * gzipped: chunk JSON repeats its id/model/fields and shrinks 20-60x, so a capture above this cannot fit anyway.
 */
const CAPTURE_GZIP_HEADROOM = 16;

/**
 * `generateTextWithCache()` and friends: the seed's cached LLM call with canonical keys, tenant isolation,
 * per-request cache controls, coalescing of identical misses (in-process and across processes), and streams that
 * are captured while they are forwarded and replayed chunk-for-chunk. Fail-open: with Redis down, slow or hung,
 * every answer still comes from the provider (each cache call is bounded by RedisCacheService).
 */
@Injectable()
export class LlmCacheService {
  protected readonly logger = new Logger('LlmCacheService');
  protected readonly keyPolicy: CacheKeyPolicy;
  protected readonly prices: PriceTable;
  protected readonly flights = new RequestCoalescer<LlmCacheEntry>();

  constructor(
    protected readonly cache: RedisCacheService,
    @Inject(LLM_CACHE_RESOLVED_OPTIONS) readonly options: ResolvedLlmCacheOptions,
    protected readonly metrics: LlmCacheMetrics,
    @Optional() @Inject(LLM_PROVIDER) protected readonly defaultProvider?: LlmProvider | null,
  ) {
    this.keyPolicy = new CacheKeyPolicy({
      schemaVersion: options.keySchemaVersion,
      shareAcrossTenants: options.shareAcrossTenants,
      includeUserField: options.includeUserField,
      cacheKeyFn: options.cacheKeyFn,
    });
    this.prices = new PriceTable(options.pricing);
  }

  async generateTextWithCache(
    request: ChatCompletionRequest,
    provider?: LlmProvider,
    options: GenerateOptions = {},
  ): Promise<LlmCacheResult> {
    const plan = this.plan(request, provider, options);
    if (!plan.key) {
      const response = await this.completeUpstream(plan);
      return this.finish(plan, { response, cached: false, status: 'bypass', stored: false });
    }
    const found = await this.lookup(plan);
    if (found) {
      return this.finish(
        plan,
        { response: entryToCompletion(found.entry), ...this.served(plan, found, 'hit') },
        found.entry.ttlMs,
      );
    }
    this.refuseIfOnlyIfCached(plan);

    // The caller's abort answers the caller at once; the leader's work carries on while followers wait for it.
    const outcome = await untilAborted(
      this.coordinate(plan, async (release, followers) => {
        const t0 = performance.now();
        const upstream = this.upstreamAbort(plan, followers);
        try {
          const response = await this.completeUpstream(plan, upstream.signal);
          const latencyMs = performance.now() - t0;
          const storable = isStorableFinish(
            response.choices.map((c) => c.finish_reason),
            this.options.storeLengthFinish,
          );
          // Stored or not (cut off by max_tokens, filtered), it is the answer to the followers' identical request.
          const entry = this.newEntry(plan, latencyMs, { completion: response });
          const stored = storable ? await this.store(plan, entry) : false;
          await release(entry);
          return { response, stored };
        } finally {
          upstream.dispose();
        }
      }),
      plan.signal,
    );
    if (outcome.role === 'follower') {
      const { found: f } = outcome;
      return this.finish(
        plan,
        { response: entryToCompletion(f.entry), ...this.served(plan, f, 'coalesced') },
        f.entry.ttlMs,
      );
    }
    const status = plan.control.noCache ? 'refresh' : 'miss';
    return this.finish(plan, { ...outcome.result, cached: false, status, key: plan.key });
  }

  async streamTextWithCache(
    request: ChatCompletionRequest,
    provider?: LlmProvider,
    options: GenerateOptions = {},
  ): Promise<LlmStreamResult> {
    const plan = this.plan(request, provider, options);
    const includeUsage = request.stream_options?.include_usage === true;
    if (!plan.key) {
      const upstream = await this.openUpstreamStream(plan, { ...plan.request, stream: true });
      const stream = this.forward(upstream, includeUsage, plan);
      return this.finishStream(plan, {
        stream,
        cached: false,
        status: 'bypass',
        storedPromise: Promise.resolve(false),
      });
    }
    const found = await this.lookup(plan);
    if (found)
      return this.finishStream(plan, this.replay(plan, found, 'hit', includeUsage), found.entry.ttlMs);
    this.refuseIfOnlyIfCached(plan);

    const outcome = await untilAborted(
      this.coordinate(plan, (release, followers, boundMs) =>
        this.leadStream(plan, includeUsage, release, followers, boundMs),
      ),
      plan.signal,
    );
    if (outcome.role === 'follower') {
      const { found: f } = outcome;
      return this.finishStream(plan, this.replay(plan, f, 'coalesced', includeUsage), f.entry.ttlMs);
    }
    const status = plan.control.noCache ? 'refresh' : 'miss';
    return this.finishStream(plan, { ...outcome.result, cached: false, status, key: plan.key });
  }

  /**
   * A streamed miss: the upstream is read by a pump into a buffer (captured for the cache) while the caller reads the
   * buffer. An upstream error or an incomplete answer stores nothing. The caller stopping early or aborting cancels
   * the upstream call only when no follower in this process waits for it; otherwise the caller alone stops being
   * served and the answer is still captured, stored and handed to the followers. A coordinated leader's whole
   * capture is bounded by `capMs` (`coalescing.lockTtlMs`: past it the lock may be someone else's, and the key of
   * this process has been held long enough); a stream nobody can wait for is bounded by the provider's idle timeout.
   */
  protected async leadStream(
    plan: LlmCallPlan,
    includeUsage: boolean,
    release: Release,
    followers: () => number = () => 0,
    capMs?: number,
  ): Promise<{ stream: AsyncIterable<ChatCompletionChunk>; storedPromise: Promise<boolean> }> {
    const t0 = performance.now();
    const stop = this.upstreamAbort(plan, followers);
    let capped = false;
    const cap =
      capMs === undefined
        ? undefined
        : setTimeout(() => {
            capped = true;
            stop.abort();
          }, capMs);
    cap?.unref();
    const cappedError = () =>
      new LlmProviderError(`upstream stream still running after ${capMs} ms (coalescing.lockTtlMs)`, {
        status: 504,
        type: 'timeout',
        code: 'upstream_timeout',
      });
    let upstream: Awaited<ReturnType<LlmCacheService['openUpstreamStream']>>;
    try {
      // Usage is always asked of the upstream (and hidden from a client that did not ask) so hits can count it.
      upstream = await this.openUpstreamStream(
        plan,
        {
          ...plan.request,
          stream: true,
          stream_options: { ...(plan.request.stream_options ?? {}), include_usage: true },
        },
        stop.signal,
      );
    } catch (err) {
      clearTimeout(cap);
      stop.dispose();
      throw capped ? cappedError() : err;
    }
    const broadcast = new ChunkBroadcast({ maxCaptureBytes: this.maxCaptureBytes() });
    const storedPromise = (async () => {
      let handoff: LlmCacheEntry | 'alone' | undefined;
      let stored = false;
      try {
        const clean = await this.pump(upstream, broadcast, stop.signal, () =>
          capped ? cappedError() : undefined,
        );
        this.metrics.recordDuration(performance.now() - plan.startMs, false);
        if (clean && !broadcast.isCapturing) handoff = 'alone';
        else if (clean && hasFinished(broadcast.chunks)) {
          handoff = this.newEntry(plan, performance.now() - t0, { chunks: broadcast.chunks });
          if (isCompleteStream(broadcast.chunks, this.options.storeLengthFinish))
            stored = await this.store(plan, handoff);
        }
      } catch (err) {
        // Never reject: the caller may not even look at storedPromise, and followers must be released.
        this.logger.warn(`not caching ${plan.key}: ${(err as Error).message}`);
        handoff = undefined;
        stored = false;
      } finally {
        clearTimeout(cap);
        stop.dispose();
        await release(handoff).catch(() => undefined);
      }
      return stored;
    })();
    const callerSignal = plan.signal;
    async function* relay(): AsyncGenerator<ChatCompletionChunk> {
      try {
        for await (const chunk of broadcast.read(callerSignal)) {
          const out = chunkForClient(chunk, includeUsage);
          if (out) yield out;
        }
      } catch (err) {
        throw callerSignal?.aborted ? callerAborted('stream aborted by the caller') : err;
      } finally {
        // The caller stopped reading before the end: cancel the upstream call unless followers wait for it.
        if (!broadcast.isEnded && followers() === 0) stop.abort();
      }
    }
    return { stream: relay(), storedPromise };
  }

  /**
   * Reads the upstream to its end into `broadcast`; resolves whether it ended cleanly (never rejects). Stops as soon
   * as `signal` aborts, even if the provider does not notice; `abortError` names a reason other than the caller.
   */
  private async pump(
    upstream: { iterator: AsyncIterator<ChatCompletionChunk>; first: IteratorResult<ChatCompletionChunk> },
    broadcast: ChunkBroadcast,
    signal: AbortSignal,
    abortError: () => LlmProviderError | undefined,
  ): Promise<boolean> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortError() ?? callerAborted('stream aborted by the caller'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      let step = upstream.first;
      while (!step.done) {
        if (!isWellFormedChunk(step.value)) throw malformedResponse();
        broadcast.push(step.value);
        step = await Promise.race([upstream.iterator.next(), aborted]);
      }
      if (signal.aborted) throw abortError() ?? callerAborted('stream aborted by the caller');
      broadcast.end();
      return true;
    } catch (err) {
      broadcast.end(this.failed(abortError() ?? err));
      // Not awaited: a provider that ignores the abort must not keep the leader (and its followers) waiting.
      void upstream.iterator.return?.().catch(() => undefined);
      return false;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Deletes entries under `<prefix>:llm:<pattern>` (never locks or stats); resolves to the count deleted. */
  async clearLlmCache(pattern = '*'): Promise<number> {
    if (typeof pattern !== 'string' || pattern.length === 0)
      throw new RangeError('pattern must be a non-empty string');
    return this.cache.clear(`${LLM_KEY_NAMESPACE}:${pattern}`);
  }

  /** Counters shared by every instance on the same Redis (empty while Redis is unavailable). */
  async getCacheStats(): Promise<LlmCacheStats> {
    const c = await this.cache.readCounters(LLM_STATS_HASH);
    const hits = c.hits ?? 0;
    const coalesced = c.coalesced ?? 0;
    const misses = c.misses ?? 0;
    const served = hits + coalesced;
    return {
      hits,
      misses,
      bypasses: c.bypasses ?? 0,
      coalesced,
      errors: c.errors ?? 0,
      cacheHitRatio: served + misses === 0 ? 0 : served / (served + misses),
      tokensSaved: c.tokensSaved ?? 0,
      costSavedUsd: c.costSavedUsd ?? 0,
      latencySavedMs: c.latencySavedMs ?? 0,
    };
  }

  async resetCacheStats(): Promise<void> {
    await this.cache.resetCounters(LLM_STATS_HASH);
  }

  /** Which fields went into the key of a request (names and hashes, no content). */
  explainCacheKey(
    request: ChatCompletionRequest,
    options: { tenant?: string; provider?: LlmProvider } = {},
  ): CacheKeyExplanation {
    const provider = this.resolveProvider(options.provider);
    const tenant = checkTenant(options.tenant ?? LlmRequestContext.current()?.tenant ?? DEFAULT_TENANT);
    const { cache: _ignored, ...rest } = request as ChatCompletionRequest & { cache?: unknown };
    return this.keyPolicy.explain(rest as ChatCompletionRequest, tenant, provider.identity);
  }

  /** Resolves a call's plan; throws `LlmRequestValidationError` for a bad request. */
  protected plan(
    request: ChatCompletionRequest,
    provider: LlmProvider | undefined,
    options: GenerateOptions,
  ): LlmCallPlan {
    const ctx = LlmRequestContext.current();
    const resolvedProvider = this.resolveProvider(provider);
    validateChatCompletionRequest(request, { maxMessages: this.options.maxMessages });
    const { cache: _ignored, ...rest } = request as ChatCompletionRequest & { cache?: unknown };
    const effective: ChatCompletionRequest = { ...rest };
    if (options.defaultTemperature !== undefined && effective.temperature == null) {
      effective.temperature = options.defaultTemperature;
    }
    if (
      options.defaultMaxTokens !== undefined &&
      effective.max_tokens == null &&
      effective.max_completion_tokens == null
    ) {
      effective.max_tokens = options.defaultMaxTokens;
    }
    const tenant = checkTenant(options.tenant ?? ctx?.tenant ?? DEFAULT_TENANT);
    const control = options.control ?? ctx?.control ?? {};
    const ttlMs = options.cacheTtlMs ?? ctx?.ttlMs ?? this.options.ttlMs;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0)
      throw new RangeError(`cacheTtlMs must be a positive number, got ${ttlMs}`);
    const useCache = options.useCache ?? true;
    const bypass = !useCache || !!control.noStore || !isCacheableUnder(this.options.determinism, effective);
    const plan: LlmCallPlan = {
      request: effective,
      provider: resolvedProvider,
      tenant,
      control,
      ttlMs,
      signal: options.signal ?? ctx?.signal,
      startMs: performance.now(),
    };
    if (bypass) {
      if (control.onlyIfCached)
        throw new LlmCacheMissError('only-if-cached cannot be combined with a request that is not cached');
      return plan;
    }
    plan.key = this.keyPolicy.key(effective, tenant, resolvedProvider.identity);
    plan.lockKey = `${LLM_LOCK_NAMESPACE}:${plan.key.slice(LLM_KEY_NAMESPACE.length + 1)}`;
    return plan;
  }

  /**
   * One GET; undefined on a miss, an unreadable entry, an entry older than `max-age`, or `no-cache`. `quiet` leaves
   * the cache's hit/miss counters alone (a follower polling for a leader's entry is not a lookup of its own).
   */
  protected async lookup(plan: LlmCallPlan, quiet = false): Promise<Found | undefined> {
    if (plan.control.noCache) return undefined;
    const entry = await this.cache.get<LlmCacheEntry>(plan.key!, quiet ? { countStats: false } : undefined);
    if (!entry || entry.format !== 1 || (!entry.completion && !entry.chunks)) return undefined;
    const ageMs = Math.max(0, Date.now() - entry.createdAtMs);
    if (plan.control.maxAgeMs !== undefined && ageMs > plan.control.maxAgeMs) return undefined;
    return { entry, ageMs };
  }

  /**
   * One leader per key: in this process through the flight map, across processes through a Redis lock. Followers
   * get the leader's entry; a failed leader hands them nothing and one of them leads next. Every wait is bounded by
   * `waitTimeoutMs`, after which a follower calls the provider itself.
   */
  protected async coordinate<R>(plan: LlmCallPlan, lead: Lead<R>): Promise<Coordinated<R>> {
    const { enabled, waitTimeoutMs } = this.options.coalescing;
    // A refresh wants an answer newer than what is stored, so it neither waits for nor blocks anyone.
    if (!enabled || plan.control.noCache) return { role: 'leader', result: await this.runAlone(lead) };
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
    return { role: 'leader', result: await this.runAlone(lead) };
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
        const lock = await this.cache.acquireLock(plan.lockKey!, this.options.coalescing.lockTtlMs);
        if (lock.status === 'unavailable') break;
        if (lock.status === 'acquired') {
          token = lock.token;
          // Another leader may have stored the answer between our lookup and the lock: check before paying.
          const found = await this.lookup(plan);
          if (found) {
            await this.cache.releaseLock(plan.lockKey!, token);
            flight.settle({ ok: true, value: found.entry });
            return { role: 'follower', found };
          }
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
    const release: Release = async (handoff) => {
      // The lock first: a follower of this process that leads next must not find our stale lock and wait on it.
      if (token) await this.cache.releaseLock(plan.lockKey!, token);
      flight.settle(
        handoff === 'alone'
          ? { ok: false, alone: true }
          : handoff
            ? { ok: true, value: handoff }
            : { ok: false },
      );
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
      const [found, held] = await Promise.all([this.lookup(plan, true), this.cache.exists(plan.lockKey!)]);
      if (found) return found;
      // Redis stopped answering: stop waiting for it and call the provider.
      if (held === undefined) return 'timeout';
      if (held) continue;
      // The entry may have landed between the two replies.
      return (await this.lookup(plan, true)) ?? 'released';
    }
    return 'timeout';
  }

  /** A leader nobody waits for (coalescing off, a refresh, or the wait for another leader gave up). */
  private runAlone<R>(lead: Lead<R>): Promise<R> {
    return this.runLeader(
      lead,
      async () => undefined,
      () => 0,
    );
  }

  private async runLeader<R>(
    lead: Lead<R>,
    release: Release,
    followers: () => number,
    boundMs?: number,
  ): Promise<R> {
    let released = false;
    const once: Release = async (handoff) => {
      if (released) return;
      released = true;
      await release(handoff);
    };
    try {
      return await lead(once, followers, boundMs);
    } catch (err) {
      await once();
      throw err;
    }
  }

  /**
   * The upstream call's own abort. The caller's abort cancels it only while no follower in this process waits for
   * its answer: a follower must not start over because the leader's client went away.
   */
  private upstreamAbort(
    plan: LlmCallPlan,
    followers: () => number,
  ): { signal: AbortSignal; abort(): void; dispose(): void } {
    const controller = new AbortController();
    const caller = plan.signal;
    const onAbort = () => {
      if (followers() === 0) controller.abort();
    };
    if (caller?.aborted) onAbort();
    else caller?.addEventListener('abort', onAbort, { once: true });
    return {
      signal: controller.signal,
      abort: () => controller.abort(),
      dispose: () => caller?.removeEventListener('abort', onAbort),
    };
  }

  protected async completeUpstream(plan: LlmCallPlan, signal = plan.signal): Promise<ChatCompletion> {
    const { stream: _s, stream_options: _o, ...request } = plan.request;
    let response: ChatCompletion;
    try {
      response = await plan.provider.complete(request as ChatCompletionRequest, { signal });
    } catch (err) {
      throw this.failed(err);
    }
    if (!isWellFormedCompletion(response)) throw this.failed(malformedResponse());
    return response;
  }

  /** Opens the upstream stream and reads its first chunk, so errors before the first byte reject here. */
  protected async openUpstreamStream(
    plan: LlmCallPlan,
    request: ChatCompletionRequest,
    signal = plan.signal,
  ): Promise<{ iterator: AsyncIterator<ChatCompletionChunk>; first: IteratorResult<ChatCompletionChunk> }> {
    const iterator = plan.provider.stream(request, { signal })[Symbol.asyncIterator]();
    let first: IteratorResult<ChatCompletionChunk>;
    try {
      first = await iterator.next();
    } catch (err) {
      throw this.failed(err);
    }
    if (!first.done && !isWellFormedChunk(first.value)) {
      void iterator.return?.().catch(() => undefined);
      throw this.failed(malformedResponse());
    }
    return { iterator, first };
  }

  /** Forwards an upstream stream to the caller as is (a bypass: nothing is captured or stored). */
  protected async *forward(
    upstream: { iterator: AsyncIterator<ChatCompletionChunk>; first: IteratorResult<ChatCompletionChunk> },
    includeUsage: boolean,
    plan: LlmCallPlan,
  ): AsyncGenerator<ChatCompletionChunk> {
    let clean = false;
    try {
      let step = upstream.first;
      while (!step.done) {
        if (!isWellFormedChunk(step.value)) throw this.failed(malformedResponse());
        const out = chunkForClient(step.value, includeUsage);
        if (out) yield out;
        try {
          step = await upstream.iterator.next();
        } catch (err) {
          throw this.failed(err);
        }
      }
      clean = true;
    } finally {
      // A caller that stops reading early cancels the upstream request.
      if (!clean) await upstream.iterator.return?.().catch(() => undefined);
      this.metrics.recordDuration(performance.now() - plan.startMs, false);
    }
  }

  protected replay(
    plan: LlmCallPlan,
    found: Found,
    status: 'hit' | 'coalesced',
    includeUsage: boolean,
  ): LlmStreamResult {
    const chunks = entryToChunks(found.entry);
    async function* replay(): AsyncGenerator<ChatCompletionChunk> {
      for (const chunk of chunks) {
        const out = chunkForClient(chunk, includeUsage);
        if (out) yield out;
      }
    }
    const { cached, ageMs, key } = this.served(plan, found, status);
    return { stream: replay(), cached, status, ageMs, key, storedPromise: Promise.resolve(false) };
  }

  /** Accounting for an answer served without a provider call of its own. */
  protected served(plan: LlmCallPlan, found: Found, status: 'hit' | 'coalesced') {
    const usage = entryUsage(found.entry);
    const tokens = usage?.total_tokens ?? 0;
    const costUsd = this.prices.costUsd(found.entry.model, usage);
    const latencySavedMs = Math.max(
      0,
      Math.round(found.entry.upstreamLatencyMs - (performance.now() - plan.startMs)),
    );
    this.cache.count(LLM_STATS_HASH, {
      [status === 'hit' ? 'hits' : 'coalesced']: 1,
      tokensSaved: tokens,
      costSavedUsd: costUsd,
      latencySavedMs,
    });
    this.metrics.recordSaved(tokens, costUsd);
    return { cached: true, status, ageMs: found.ageMs, key: plan.key, stored: false } as const;
  }

  protected finish(plan: LlmCallPlan, result: LlmCacheResult, entryTtlMs?: number): LlmCacheResult {
    this.account(plan, result.status, result.ageMs, result.stored, entryTtlMs);
    this.metrics.recordDuration(performance.now() - plan.startMs, result.cached);
    return result;
  }

  protected finishStream(plan: LlmCallPlan, result: LlmStreamResult, entryTtlMs?: number): LlmStreamResult {
    this.account(plan, result.status, result.ageMs, undefined, entryTtlMs);
    if (result.cached) this.metrics.recordDuration(performance.now() - plan.startMs, true);
    return result;
  }

  private account(
    plan: LlmCallPlan,
    status: LlmCacheStatus,
    ageMs: number | undefined,
    stored: boolean | undefined,
    entryTtlMs?: number,
  ): void {
    const label: LlmCacheResultLabel = status === 'refresh' ? 'miss' : status;
    this.metrics.recordResult(label);
    if (status === 'miss' || status === 'refresh') this.cache.count(LLM_STATS_HASH, { misses: 1 });
    if (status === 'bypass') this.cache.count(LLM_STATS_HASH, { bypasses: 1 });
    const ctx = LlmRequestContext.current();
    if (ctx) {
      const cached = status === 'hit' || status === 'coalesced';
      ctx.outcome = {
        status,
        cached,
        ageMs,
        key: plan.key,
        ttlMs: plan.key ? Math.max(0, (entryTtlMs ?? plan.ttlMs) - (ageMs ?? 0)) : undefined,
        stored,
      };
    }
  }

  private refuseIfOnlyIfCached(plan: LlmCallPlan): void {
    if (!plan.control.onlyIfCached) return;
    this.cache.count(LLM_STATS_HASH, { misses: 1 });
    this.metrics.recordResult('miss');
    throw new LlmCacheMissError();
  }

  private newEntry(
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

  /** Where a stream's capture stops being kept for storage (see `CAPTURE_GZIP_HEADROOM`). */
  private maxCaptureBytes(): number {
    const { maxEntryBytes, compressThresholdBytes } = this.cache.options;
    return compressThresholdBytes < maxEntryBytes ? maxEntryBytes * CAPTURE_GZIP_HEADROOM : maxEntryBytes;
  }

  private async store(plan: LlmCallPlan, entry: LlmCacheEntry): Promise<boolean> {
    try {
      return await this.cache.set(plan.key!, entry, { ttlMs: plan.ttlMs });
    } catch (err) {
      this.logger.warn(`not caching ${plan.key}: ${(err as Error).message}`);
      return false;
    }
  }

  private failed(err: unknown): LlmProviderError {
    const error = toLlmProviderError(err);
    this.metrics.recordResult('error');
    this.cache.count(LLM_STATS_HASH, { errors: 1 });
    return error;
  }

  private resolveProvider(provider?: LlmProvider): LlmProvider {
    const resolved = provider ?? this.defaultProvider;
    if (!resolved) {
      throw new Error(
        'LlmCacheService: no provider; pass one to LlmCacheModule.forRoot({ provider }) or to the call',
      );
    }
    return resolved;
  }
}

function checkTenant(tenant: unknown): string {
  if (typeof tenant !== 'string' || tenant.length === 0 || tenant.length > 256) {
    throw new TypeError('tenant must be a non-empty string of at most 256 characters');
  }
  return tenant;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw callerAborted();
}

function malformedResponse(): LlmProviderError {
  return new LlmProviderError('upstream returned a malformed response', {
    status: 502,
    type: 'upstream_error',
    code: 'malformed_response',
  });
}

/**
 * Settles with `work`, or rejects with a 408 as soon as the caller aborts. `work` then finishes on its own (a
 * leader's upstream call that followers wait for); its late outcome is nobody's to handle.
 */
function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(callerAborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(callerAborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(callerAborted());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
