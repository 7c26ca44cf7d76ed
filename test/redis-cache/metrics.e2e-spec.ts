/**
 * Proves the seed's telemetry is recorded through nestjs-otel with exactly the seed's names:
 * `redis_operations_total{operation,success}`, `redis_operation_duration_seconds{operation}` with second-sized
 * buckets, and `redis_connection_status{status}`. A MeterProvider is registered before the module exists, as the
 * app does by starting the OpenTelemetry SDK before Nest.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { TestingModule } from '@nestjs/testing';
import { RedisCacheService } from '@llm-cache/redis-cache';
import { RedisServer } from '../harness/redis-server.js';
import { cacheModule, waitFor } from './support.js';

describe('RedisCacheMetrics (OpenTelemetry through nestjs-otel)', () => {
  let redis: RedisServer;
  let exporter: PrometheusExporter;
  let provider: MeterProvider;
  let mod: TestingModule | undefined;

  async function scrape(): Promise<string> {
    const { resourceMetrics } = await exporter.collect();
    return new PrometheusSerializer().serialize(resourceMetrics);
  }
  /** The value of one exported sample line, e.g. `redis_operations_total{operation="get",success="true"}`. */
  function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      const labelText = line.slice(name.length + 1, line.lastIndexOf('}'));
      const found = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (Object.entries(labels).every(([k, v]) => found[k] === v))
        return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return undefined;
  }

  beforeAll(async () => {
    exporter = new PrometheusExporter({ preventServerStart: true });
    provider = new MeterProvider({ readers: [exporter] });
    metrics.setGlobalMeterProvider(provider);
    redis = await RedisServer.start();
    mod = await cacheModule({ url: redis.url, keyPrefix: 'metrics-test', commandTimeoutMs: 100 });
  });

  afterAll(async () => {
    await mod?.close();
    await redis?.stop();
    await provider?.shutdown();
    metrics.disable();
  });

  it('exports exactly the three seed metric names plus the breaker state, without doubled suffixes', async () => {
    // The histogram appears with its first recorded operation (counters are primed at 0 on construction).
    await mod!.get(RedisCacheService).get('warm-up');
    const text = await scrape();
    const names = new Set(
      text
        .split('\n')
        .filter((l) => l.startsWith('# TYPE redis_'))
        .map((l) => l.split(' ')[2]),
    );
    expect([...names].sort()).toEqual([
      'redis_circuit_breaker_state',
      'redis_connection_status',
      'redis_operation_duration_seconds',
      'redis_operations_total',
    ]);
    expect(text).toMatch(/^# TYPE redis_operations_total counter$/m);
    expect(text).toMatch(/^# TYPE redis_operation_duration_seconds histogram$/m);
    expect(text).toMatch(/^# TYPE redis_connection_status gauge$/m);
    expect(text).toMatch(/^# TYPE redis_circuit_breaker_state gauge$/m);
    expect(text).toMatch(/^redis_circuit_breaker_state\{state="closed"[^}]*\} 1$/m);
    expect(text).toMatch(/^redis_circuit_breaker_state\{state="open"[^}]*\} 0$/m);
  });

  it('shows redis_connection_status{status="connected"} 1 and the others 0 while connected', async () => {
    const text = await scrape();
    expect(sample(text, 'redis_connection_status', { status: 'connected' })).toBe(1);
    expect(sample(text, 'redis_connection_status', { status: 'disconnected' })).toBe(0);
    expect(sample(text, 'redis_connection_status', { status: 'connecting' })).toBe(0);
  });

  it('counts successful gets and sets as success="true" and records their duration in seconds', async () => {
    const svc = mod!.get(RedisCacheService);
    const before = await scrape();
    const getsBefore = sample(before, 'redis_operations_total', { operation: 'get', success: 'true' }) ?? 0;
    const setsBefore = sample(before, 'redis_operations_total', { operation: 'set', success: 'true' }) ?? 0;
    await svc.set('a', { x: 1 });
    await svc.get('a');
    await svc.get('missing');
    const after = await scrape();
    expect(sample(after, 'redis_operations_total', { operation: 'get', success: 'true' })).toBe(
      getsBefore + 2,
    );
    expect(sample(after, 'redis_operations_total', { operation: 'set', success: 'true' })).toBe(
      setsBefore + 1,
    );

    const count = sample(after, 'redis_operation_duration_seconds_count', { operation: 'get' });
    const sum = sample(after, 'redis_operation_duration_seconds_sum', { operation: 'get' });
    expect(count).toBeGreaterThanOrEqual(2);
    // Loopback gets take well under a second each: the sum is in seconds, not milliseconds.
    expect(sum).toBeGreaterThan(0);
    expect(sum!).toBeLessThan(count! * 0.1);
    // Second-sized buckets (the shared DURATION_BUCKETS_S, 0.1 ms to 2 min), not the SDK's default ms-sized 0..10000.
    const les = [
      ...after.matchAll(/^redis_operation_duration_seconds_bucket\{[^}]*operation="get"[^}]*le="([^"]+)"/gm),
    ].map((m) => m[1]);
    expect(les).toEqual(expect.arrayContaining(['0.0001', '0.001', '0.01', '0.05', '0.1', '1', '+Inf']));
    expect(les).not.toContain('10000');
    expect(sample(after, 'redis_operation_duration_seconds_bucket', { operation: 'get', le: '1' })).toBe(
      count,
    );
  });

  it('counts failed calls as success="false" and reports the lost connection', async () => {
    const svc = mod!.get(RedisCacheService);
    const before = await scrape();
    const failedBefore =
      sample(before, 'redis_operations_total', { operation: 'get', success: 'false' }) ?? 0;
    await redis.kill();
    await waitFor('the client to notice the dead server', () => !svc.isConnected(), 5000);
    expect(await svc.get('a')).toBeUndefined();
    expect(await svc.get('a')).toBeUndefined();
    const after = await scrape();
    expect(sample(after, 'redis_operations_total', { operation: 'get', success: 'false' })).toBe(
      failedBefore + 2,
    );
    expect(sample(after, 'redis_connection_status', { status: 'connected' })).toBe(0);
    expect(
      (sample(after, 'redis_connection_status', { status: 'disconnected' }) ?? 0) +
        (sample(after, 'redis_connection_status', { status: 'connecting' }) ?? 0),
    ).toBe(1);
  });
});
