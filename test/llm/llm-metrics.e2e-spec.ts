import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { DURATION_BUCKETS_S } from '@llm-cache/redis-cache';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { chat, createLlmFixture, type LlmFixture } from './llm-fixture.js';

/** One series line: `name{…label…} value` (the exporter adds its own labels, e.g. otel_scope_name). */
const series = (name: string, label: string, value: string) =>
  new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} ${value}$`, 'm');

describe('LLM cache metrics', () => {
  // Registered before any Nest module exists: instruments created earlier would stay no-ops.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
  const scrape = async () => new PrometheusSerializer().serialize((await exporter.collect()).resourceMetrics);
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let fx: LlmFixture;

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer().start();
    fx = await createLlmFixture(upstream, { url: redis.url });
  });
  afterAll(async () => {
    await fx?.close();
    await upstream?.stop();
    await redis?.stop();
    metrics.disable();
  });

  it('primes every result series at zero before first use', async () => {
    const text = await scrape();
    for (const result of ['hit', 'miss', 'bypass', 'coalesced', 'error']) {
      expect(text).toMatch(series('llm_cache_requests_total', `result="${result}"`, '0'));
    }
    expect(text).toMatch(/llm_tokens_saved_total(\{[^}]*\})? 0/);
    expect(text).toMatch(/llm_cost_saved_usd_total(\{[^}]*\})? 0/);
  });

  it('counts results, tokens and dollars saved, and durations by cached', async () => {
    const miss = await fx.llm.generateTextWithCache(chat('metrics'));
    await fx.llm.generateTextWithCache(chat('metrics'));
    await fx.llm.generateTextWithCache(chat('boom __status_500__')).catch(() => undefined);
    const text = await scrape();
    expect(text).toMatch(series('llm_cache_requests_total', 'result="hit"', '1'));
    expect(text).toMatch(series('llm_cache_requests_total', 'result="miss"', '1'));
    expect(text).toMatch(series('llm_cache_requests_total', 'result="error"', '1'));
    expect(text).toMatch(
      new RegExp(`llm_tokens_saved_total(\\{[^}]*\\})? ${miss.response.usage!.total_tokens}\\b`),
    );
    expect(text).toMatch(/llm_cost_saved_usd_total(\{[^}]*\})? 0\.0000\d+/);
    expect(text).toMatch(series('llm_request_duration_seconds_count', 'cached="true"', '1'));
    expect(text).toMatch(series('llm_request_duration_seconds_bucket', 'cached="false"[^}]*le="60"', '1'));
    expect(text).toMatch(
      series('llm_request_duration_seconds_bucket', 'cached="true"[^}]*le="0.001"', '[01]'),
    );
  });

  it('uses the one shared set of duration buckets for the LLM and the Redis histograms', async () => {
    await fx.llm.generateTextWithCache(chat('buckets'));
    const text = await scrape();
    const boundaries = (name: string) => [
      ...new Set(
        [...text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"`, 'gm'))].map((m) => m[1]),
      ),
    ];
    const expected = [...DURATION_BUCKETS_S.map(String), '+Inf'];
    expect(boundaries('llm_request_duration_seconds')).toEqual(expected);
    expect(boundaries('redis_operation_duration_seconds')).toEqual(expected);
  });
});
