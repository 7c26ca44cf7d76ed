import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import {
  RedisCacheService,
  type DeleteByPatternResult,
  type RequireRedisOption,
} from '@llm-cache/redis-cache';
import { untilAborted } from './abortable.js';
import { CacheKeyPolicy, type CacheKeyExplanation } from './cache-key.policy.js';
import { isCacheableUnder } from './determinism.policy.js';
import { LlmCacheAccounting } from './llm-cache.accounting.js';
import { LlmCacheEntries, NOT_STORED } from './llm-cache.entries.js';
import { LlmCacheMissError } from './llm-cache.errors.js';
import type {
  GenerateOptions,
  LlmCacheResult,
  LlmCacheStats,
  LlmStreamResult,
  ResolvedLlmCacheOptions,
} from './llm-cache.interfaces.js';
import { LlmCacheMetrics } from './llm-cache.metrics.js';
import { LlmCacheTracing } from './llm-cache.tracing.js';
import { LlmCallCoordinator, releaseAndSend } from './llm-call.coordinator.js';
import type { LlmCallPlan } from './llm-call.plan.js';
import type { LlmProvider } from './llm-provider.interface.js';
import { LlmRequestContext } from './llm-request.context.js';
import { LlmStreamLeader } from './llm-stream.leader.js';
import { LlmUpstream } from './llm-upstream.js';
import {
  DEFAULT_TENANT,
  LLM_CACHE_RESOLVED_OPTIONS,
  LLM_KEY_NAMESPACE,
  LLM_LOCK_NAMESPACE,
  LLM_PROVIDER,
} from './llm.constants.js';
import type { ChatCompletionRequest } from './llm.types.js';
import { PriceTable } from './pricing.js';
import { RequestCoalescer } from './request-coalescer.js';
import { validateChatCompletionRequest } from './request.validator.js';
import { entryToCompletion, isStorableFinish, type LlmCacheEntry } from './stream.codec.js';

export type { LlmCallPlan } from './llm-call.plan.js';

/**
 * `generateTextWithCache()` and friends: the seed's cached LLM call with canonical keys, tenant isolation,
 * per-request cache controls, coalescing of identical misses (in-process and across processes), and streams that
 * are captured while they are forwarded and replayed chunk-for-chunk. Fail-open: with Redis down, slow or hung,
 * every answer still comes from the provider (each cache call is bounded by RedisCacheService).
 *
 * This class resolves a call's plan and drives it; the roles live beside it: `LlmCacheEntries` (read/build/store
 * entries), `LlmCallCoordinator` (one leader per key), `LlmUpstream` (provider calls), `LlmStreamLeader` (stream
 * capture and replay) and `LlmCacheAccounting` (counters, metrics, the request's outcome).
 */
@Injectable()
export class LlmCacheService {
  protected readonly logger = new Logger('LlmCacheService');

  /**
   * The roles are providers of `LlmCacheModule`, injected here: replace one through the module's `providers` extra,
   * e.g. `LlmCacheModule.forRoot({ provider, providers: [{ provide: RequestCoalescer, useClass: MyCoalescer }] })`.
   */
  constructor(
    protected readonly cache: RedisCacheService,
    @Inject(LLM_CACHE_RESOLVED_OPTIONS) readonly options: ResolvedLlmCacheOptions,
    protected readonly metrics: LlmCacheMetrics,
    @Optional() @Inject(LLM_PROVIDER) protected readonly defaultProvider: LlmProvider | null | undefined,
    @Inject(CacheKeyPolicy) protected readonly keyPolicy: CacheKeyPolicy,
    @Inject(PriceTable) protected readonly prices: PriceTable,
    @Inject(RequestCoalescer) protected readonly flights: RequestCoalescer<LlmCacheEntry>,
    @Inject(LlmCacheAccounting) protected readonly accounting: LlmCacheAccounting,
    @Inject(LlmCacheEntries) protected readonly entries: LlmCacheEntries,
    @Inject(LlmUpstream) protected readonly upstream: LlmUpstream,
    @Inject(LlmCallCoordinator) protected readonly coordinator: LlmCallCoordinator,
    @Inject(LlmStreamLeader) protected readonly streams: LlmStreamLeader,
    @Inject(LlmCacheTracing) protected readonly tracing: LlmCacheTracing,
  ) {}

  async generateTextWithCache(
    request: ChatCompletionRequest,
    provider?: LlmProvider,
    options: GenerateOptions = {},
  ): Promise<LlmCacheResult> {
    const plan = this.plan(request, provider, options);
    return this.tracing.traceCall(plan, () => this.completeWithCache(plan));
  }

  /** The cached completion of a resolved plan (inside the call's trace span). */
  protected async completeWithCache(plan: LlmCallPlan): Promise<LlmCacheResult> {
    const { accounting } = this;
    if (!plan.key) {
      const response = await this.upstream.complete(plan);
      return accounting.finish(plan, {
        response,
        cached: false,
        status: 'bypass',
        stored: false,
        storedPromise: NOT_STORED,
      });
    }
    const found = await this.entries.lookup(plan);
    if (found) {
      return accounting.finish(
        plan,
        {
          response: entryToCompletion(found.entry),
          ...accounting.served(plan, found, 'hit'),
          storedPromise: NOT_STORED,
        },
        found.entry.ttlMs,
      );
    }
    accounting.refuseIfOnlyIfCached(plan);

    // The caller's abort answers the caller at once; the leader's work carries on while followers wait for it.
    const outcome = await untilAborted(
      this.coordinator.coordinate(plan, async (release, followers) => {
        const t0 = performance.now();
        const stop = this.upstream.abortFor(plan, followers);
        try {
          const response = await this.upstream.complete(plan, stop.signal);
          const latencyMs = performance.now() - t0;
          const storable = isStorableFinish(
            response.choices.map((c) => c.finish_reason),
            this.options.storeLengthFinish,
          );
          // Stored or not (cut off by max_tokens, filtered), it is the answer to the followers' identical request.
          const entry = this.entries.create(plan, latencyMs, { completion: response });
          // Answered once the write is sent, not after Redis' reply (unless the caller asked to await it).
          const { stored, storedPromise } = await releaseAndSend(release, entry, storable, plan.awaitStore);
          return { response, stored, storedPromise };
        } finally {
          stop.dispose();
        }
      }),
      plan.signal,
    );
    if (outcome.role === 'follower') {
      const { found: f } = outcome;
      return accounting.finish(
        plan,
        {
          response: entryToCompletion(f.entry),
          ...accounting.served(plan, f, 'coalesced'),
          storedPromise: NOT_STORED,
        },
        f.entry.ttlMs,
      );
    }
    const status = plan.control.noCache ? 'refresh' : 'miss';
    return accounting.finish(plan, { ...outcome.result, cached: false, status, key: plan.key });
  }

  async streamTextWithCache(
    request: ChatCompletionRequest,
    provider?: LlmProvider,
    options: GenerateOptions = {},
  ): Promise<LlmStreamResult> {
    const plan = this.plan(request, provider, options);
    return this.tracing.traceCall(plan, () => this.streamWithCache(plan));
  }

  /** The cached stream of a resolved plan (inside the call's trace span, which ends once the stream is handed out). */
  protected async streamWithCache(plan: LlmCallPlan): Promise<LlmStreamResult> {
    const { accounting, streams } = this;
    const includeUsage = plan.request.stream_options?.include_usage === true;
    if (!plan.key) {
      const upstream = await this.upstream.openStream(plan, { ...plan.request, stream: true });
      const stream = this.upstream.forward(upstream, includeUsage, plan);
      return accounting.finishStream(plan, {
        stream,
        cached: false,
        status: 'bypass',
        storedPromise: NOT_STORED,
      });
    }
    const found = await this.entries.lookup(plan);
    if (found)
      return accounting.finishStream(
        plan,
        streams.replay(plan, found, 'hit', includeUsage),
        found.entry.ttlMs,
      );
    accounting.refuseIfOnlyIfCached(plan);

    const outcome = await untilAborted(
      this.coordinator.coordinate(plan, (release, followers, boundMs) =>
        streams.leadStream(plan, includeUsage, release, followers, boundMs),
      ),
      plan.signal,
    );
    if (outcome.role === 'follower') {
      const { found: f } = outcome;
      return accounting.finishStream(plan, streams.replay(plan, f, 'coalesced', includeUsage), f.entry.ttlMs);
    }
    const status = plan.control.noCache ? 'refresh' : 'miss';
    return accounting.finishStream(plan, { ...outcome.result, cached: false, status, key: plan.key });
  }

  /**
   * Deletes entries under `<prefix>:llm:<pattern>` (never locks or stats); resolves to the count deleted, failing
   * open (0 when Redis is unavailable). An admin endpoint wants `deleteLlmEntries()`, which tells the two apart.
   */
  async clearLlmCache(pattern = '*'): Promise<number> {
    if (typeof pattern !== 'string' || pattern.length === 0)
      throw new RangeError('pattern must be a non-empty string');
    return this.cache.clear(`${LLM_KEY_NAMESPACE}:${pattern}`);
  }

  /**
   * Deletes entries under `<prefix>:llm:<pattern>`: `{ deleted, complete }` (`complete: false` when `deadlineMs`
   * cut the scan), or `RedisUnavailableError` (with `reason` and `deletedBeforeFailure`) when Redis cannot be asked.
   */
  async deleteLlmEntries(
    pattern: string,
    options: { deadlineMs?: number } = {},
  ): Promise<DeleteByPatternResult> {
    if (typeof pattern !== 'string' || pattern.length === 0)
      throw new RangeError('pattern must be a non-empty string');
    return this.cache.deleteByPattern(`${LLM_KEY_NAMESPACE}:${pattern}`, options);
  }

  /**
   * Counters shared by every instance on the same Redis: every tenant's together, or only `tenant`'s own (what a
   * tenant may be shown). Empty while Redis is unavailable, or `RedisUnavailableError` with `{ requireRedis: true }`.
   */
  getCacheStats(tenant?: string, options: RequireRedisOption = {}): Promise<LlmCacheStats> {
    return this.accounting.stats(tenant === undefined ? undefined : checkTenant(tenant), options);
  }

  /** Zeroes the all-tenants counters, or only `tenant`'s own. */
  resetCacheStats(tenant?: string): Promise<void> {
    return this.accounting.resetStats(tenant === undefined ? undefined : checkTenant(tenant));
  }

  /** Which fields went into the key of a request (names and hashes, no content). */
  explainCacheKey(
    request: ChatCompletionRequest,
    options: { tenant?: string; provider?: LlmProvider } = {},
  ): CacheKeyExplanation {
    const provider = this.resolveProvider(options.provider);
    const tenant = checkTenant(options.tenant ?? LlmRequestContext.current()?.tenant ?? DEFAULT_TENANT);
    return this.keyPolicy.explain(request, tenant, provider.identity);
  }

  /**
   * `generateTextWithCache` in two steps, for a caller that reads the entry in a round trip of its own (with data of
   * its own): `planCall` resolves the call (validation, tenant, cache controls, key: `plan.key`, undefined when the
   * call bypasses the cache) without touching Redis; `generateTextWithPlan(plan, { prefetched })` runs it, with the
   * value the caller read from `plan.key` as its lookup's GET. Throws like `generateTextWithCache` for a bad request.
   */
  planCall(
    request: ChatCompletionRequest,
    provider?: LlmProvider,
    options: GenerateOptions = {},
  ): LlmCallPlan {
    return this.plan(request, provider, options);
  }

  /**
   * Runs a plan from `planCall` (once). `prefetched.value`: what the caller read from `plan.key` (undefined when it
   * held nothing or the read failed), validated, aged, counted and served exactly like a value the lookup read.
   */
  generateTextWithPlan(
    plan: LlmCallPlan,
    options: { prefetched?: { value: unknown } } = {},
  ): Promise<LlmCacheResult> {
    if (options.prefetched && plan.key) plan.prefetched = { value: options.prefetched.value };
    return this.tracing.traceCall(plan, () => this.completeWithCache(plan));
  }

  /** Resolves a call's plan; throws `LlmRequestValidationError` for a bad request. */
  protected plan(
    request: ChatCompletionRequest,
    provider: LlmProvider | undefined,
    options: GenerateOptions,
  ): LlmCallPlan {
    const ctx = LlmRequestContext.current();
    const resolvedProvider = this.resolveProvider(provider);
    // The one validation of a chat-completion request, with the module's limits (callers pass bodies as received).
    validateChatCompletionRequest(request, {
      maxMessages: this.options.maxMessages,
      maxDepth: this.options.maxRequestDepth,
    });
    const effective: ChatCompletionRequest = { ...request };
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
      // Read when a call reaches the provider or waits for a leader, not before: the interceptor makes the
      // request's signal on first use, so a hit never pays for one.
      get signal() {
        return options.signal ?? ctx?.signal;
      },
      startMs: performance.now(),
      awaitStore: options.awaitStore === true,
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
