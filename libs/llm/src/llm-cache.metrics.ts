import { Injectable } from '@nestjs/common';
import {
  DURATION_BUCKETS_S,
  loadMetricService,
  type MetricCounter as Counter,
  type MetricRecorder as Histogram,
} from '@llm-cache/redis-cache';

export type LlmCacheResultLabel = 'hit' | 'miss' | 'bypass' | 'coalesced' | 'error';
const RESULTS: LlmCacheResultLabel[] = ['hit', 'miss', 'bypass', 'coalesced', 'error'];

/**
 * `llm_cache_requests_total{result}`, `llm_tokens_saved_total`, `llm_cost_saved_usd_total`,
 * `llm_request_duration_seconds{cached}`. Every series is primed with 0 so dashboards show it before first use.
 * Instruments bind to the global meter provider at construction: start the OpenTelemetry SDK first.
 */
@Injectable()
export class LlmCacheMetrics {
  protected readonly requests: Counter;
  protected readonly tokensSaved: Counter;
  protected readonly costSaved: Counter;
  protected readonly duration: Histogram;

  constructor() {
    const metrics = loadMetricService();
    this.requests = metrics.getCounter('llm_cache_requests', { description: 'LLM requests by cache result' });
    this.tokensSaved = metrics.getCounter('llm_tokens_saved', {
      description: 'Tokens not sent to the provider thanks to the cache',
    });
    this.costSaved = metrics.getCounter('llm_cost_saved_usd', {
      description: 'Estimated provider cost saved by the cache, USD',
    });
    this.duration = metrics.getHistogram('llm_request_duration_seconds', {
      description: 'Duration of LLM requests through the cache',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_S] },
    });
    for (const result of RESULTS) this.requests.add(0, { result });
    this.tokensSaved.add(0);
    this.costSaved.add(0);
  }

  recordResult(result: LlmCacheResultLabel): void {
    this.requests.add(1, { result });
  }

  recordSaved(tokens: number, costUsd: number): void {
    if (tokens > 0) this.tokensSaved.add(tokens);
    if (costUsd > 0) this.costSaved.add(costUsd);
  }

  recordDuration(durationMs: number, cached: boolean): void {
    this.duration.record(durationMs / 1000, { cached: String(cached) });
  }
}
