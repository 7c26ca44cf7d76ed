import { Inject, Injectable, Optional } from '@nestjs/common';
import { RedisCacheService, type RequireRedisOption } from '@llm-cache/redis-cache';
import { LlmCacheMissError } from './llm-cache.errors.js';
import type {
  LlmCacheResult,
  LlmCacheStats,
  LlmCacheStatus,
  LlmStreamResult,
} from './llm-cache.interfaces.js';
import { LlmCacheMetrics, type LlmCacheResultLabel } from './llm-cache.metrics.js';
import type { Found, LlmCallPlan } from './llm-call.plan.js';
import { LlmProviderError, toLlmProviderError } from './llm-provider.error.js';
import { LlmRequestContext } from './llm-request.context.js';
import { LLM_STATS_HASH, llmTenantStatsHash } from './llm.constants.js';
import { PriceTable } from './pricing.js';
import { entryUsage } from './stream.codec.js';
import { UpstreamFailureLog } from './upstream-failure.log.js';

/**
 * Where every call's outcome is counted: the shared Redis counters behind `getCacheStats()` (hits, misses, savings),
 * the OpenTelemetry metrics, and the request context's outcome (read by the interceptor for its headers).
 */
@Injectable()
export class LlmCacheAccounting {
  constructor(
    @Inject(RedisCacheService) protected readonly cache: RedisCacheService,
    @Inject(LlmCacheMetrics) protected readonly metrics: LlmCacheMetrics,
    @Inject(PriceTable) protected readonly prices: PriceTable,
    // Not a module provider by default: each accounting keeps its own rate-limited failure log.
    @Optional()
    @Inject(UpstreamFailureLog)
    protected readonly failureLog: UpstreamFailureLog = new UpstreamFailureLog(),
  ) {}

  /** Accounting for an answer served without a provider call of its own. */
  served(plan: LlmCallPlan, found: Found, status: 'hit' | 'coalesced') {
    const usage = entryUsage(found.entry);
    const tokens = usage?.total_tokens ?? 0;
    const costUsd = this.prices.costUsd(found.entry.model, usage);
    const latencySavedMs = Math.max(
      0,
      Math.round(found.entry.upstreamLatencyMs - (performance.now() - plan.startMs)),
    );
    this.count(plan, {
      [status === 'hit' ? 'hits' : 'coalesced']: 1,
      tokensSaved: tokens,
      costSavedUsd: costUsd,
      latencySavedMs,
    });
    this.metrics.recordSaved(tokens, costUsd);
    return { cached: true, status, ageMs: found.ageMs, key: plan.key, stored: false } as const;
  }

  finish(plan: LlmCallPlan, result: LlmCacheResult, entryTtlMs?: number): LlmCacheResult {
    this.account(plan, result.status, result.ageMs, result.stored, entryTtlMs);
    this.metrics.recordDuration(performance.now() - plan.startMs, result.cached);
    return result;
  }

  /** A stream's uncached duration is recorded when it ends (`streamEnded`), not when it is handed out. */
  finishStream(plan: LlmCallPlan, result: LlmStreamResult, entryTtlMs?: number): LlmStreamResult {
    this.account(plan, result.status, result.ageMs, undefined, entryTtlMs);
    if (result.cached) this.metrics.recordDuration(performance.now() - plan.startMs, true);
    return result;
  }

  /** The upstream part of an uncached stream is over (read to its end, failed or abandoned). */
  streamEnded(plan: LlmCallPlan): void {
    this.metrics.recordDuration(performance.now() - plan.startMs, false);
  }

  refuseIfOnlyIfCached(plan: LlmCallPlan): void {
    if (!plan.control.onlyIfCached) return;
    this.count(plan, { misses: 1 });
    this.metrics.recordResult('miss');
    throw new LlmCacheMissError();
  }

  /**
   * Counts a provider failure, logs it (rate-limited; with the plan's model, tenant and duration, never its prompt)
   * and returns it as the `LlmProviderError` the caller gets.
   */
  failed(err: unknown, plan: LlmCallPlan): LlmProviderError {
    const error = toLlmProviderError(err);
    this.metrics.recordResult('error');
    this.count(plan, { errors: 1 });
    this.failureLog.record(error, {
      model: typeof plan.request.model === 'string' ? plan.request.model : undefined,
      tenant: plan.tenant,
      requestId: LlmRequestContext.current()?.requestId,
      durationMs: performance.now() - plan.startMs,
    });
    return error;
  }

  /**
   * Counters shared by every instance on the same Redis (empty while Redis is unavailable, or
   * `RedisUnavailableError` with `{ requireRedis: true }`): all tenants', or one tenant's own when `tenant` is given.
   */
  async stats(tenant?: string, options: RequireRedisOption = {}): Promise<LlmCacheStats> {
    const c = await this.cache.readCounters(
      tenant === undefined ? LLM_STATS_HASH : llmTenantStatsHash(tenant),
      options,
    );
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

  /** Resets the all-tenants counters, or one tenant's own when `tenant` is given. */
  async resetStats(tenant?: string): Promise<void> {
    await this.cache.resetCounters(tenant === undefined ? LLM_STATS_HASH : llmTenantStatsHash(tenant));
  }

  /** Every outcome is counted twice: in the all-tenants hash (admin view) and in the plan's tenant's own. */
  protected count(plan: LlmCallPlan, fields: Record<string, number>): void {
    this.cache.count(LLM_STATS_HASH, fields);
    this.cache.count(llmTenantStatsHash(plan.tenant), fields);
  }

  protected account(
    plan: LlmCallPlan,
    status: LlmCacheStatus,
    ageMs: number | undefined,
    stored: boolean | undefined,
    entryTtlMs?: number,
  ): void {
    const label: LlmCacheResultLabel = status === 'refresh' ? 'miss' : status;
    this.metrics.recordResult(label);
    if (status === 'miss' || status === 'refresh') this.count(plan, { misses: 1 });
    if (status === 'bypass') this.count(plan, { bypasses: 1 });
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
}
