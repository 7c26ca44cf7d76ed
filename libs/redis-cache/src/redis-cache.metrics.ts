import { Injectable } from '@nestjs/common';
import type { CircuitState } from './circuit-breaker.js';
import {
  loadMetricService,
  type MetricCounter as Counter,
  type MetricRecorder as Gauge,
  type MetricRecorder as Histogram,
} from './metric-service.loader.js';

export type RedisConnectionStatus = 'connected' | 'connecting' | 'disconnected';
const STATUSES: RedisConnectionStatus[] = ['connected', 'connecting', 'disconnected'];
const BREAKER_STATES: CircuitState[] = ['closed', 'open', 'half-open'];

/**
 * The one set of histogram boundaries (seconds) for every duration this project records — Redis commands, LLM calls,
 * HTTP requests — so their series line up on one dashboard. From 0.1 ms (a loopback Redis command) to 2 min (a long
 * uncached generation); without explicit boundaries OpenTelemetry uses millisecond-sized ones even for unit `s`.
 */
export const DURATION_BUCKETS_S: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
  120,
]);

/**
 * The seed's Redis telemetry through nestjs-otel: `redis_operations_total{operation,success}`,
 * `redis_operation_duration_seconds{operation}`, `redis_connection_status{status}` (1 for the current status),
 * `redis_circuit_breaker_state{state}` (1 for the breaker's current state: closed, open or half-open).
 * Instruments bind to the global meter provider when this is constructed, so the OpenTelemetry SDK must be
 * started before Nest creates the module.
 */
@Injectable()
export class RedisCacheMetrics {
  protected readonly operations: Counter;
  protected readonly duration: Histogram;
  protected readonly connection: Gauge;
  protected readonly breaker: Gauge;

  constructor() {
    const metrics = loadMetricService();
    this.operations = metrics.getCounter('redis_operations', {
      description: 'Redis cache operations by operation and outcome',
    });
    this.duration = metrics.getHistogram('redis_operation_duration_seconds', {
      description: 'Duration of Redis cache operations',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_S] },
    });
    this.connection = metrics.getGauge('redis_connection_status', {
      description: '1 for the current Redis connection status, 0 for the others',
    });
    // Prime every series so dashboards see them before first use.
    for (const operation of ['get', 'set']) {
      this.operations.add(0, { operation, success: 'true' });
      this.operations.add(0, { operation, success: 'false' });
    }
    this.breaker = metrics.getGauge('redis_circuit_breaker_state', {
      description:
        '1 for the circuit breaker state in force (closed: Redis is used; open: skipped), 0 for the others',
    });
    this.setConnectionStatus('disconnected');
    this.setBreakerState('closed');
  }

  recordOperation(operation: string, success: boolean, durationMs: number): void {
    this.operations.add(1, { operation, success: String(success) });
    this.duration.record(durationMs / 1000, { operation });
  }

  setBreakerState(state: CircuitState): void {
    for (const s of BREAKER_STATES) this.breaker.record(s === state ? 1 : 0, { state: s });
  }

  setConnectionStatus(status: RedisConnectionStatus): void {
    for (const s of STATUSES) this.connection.record(s === status ? 1 : 0, { status: s });
  }
}
