import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { RedisCacheService } from './redis-cache.service.js';

export interface RedisHealthCheckOptions {
  /** PING deadline; a slower answer reports down. */
  timeoutMs?: number;
  /**
   * With fail-open caching Redis is optional: when false (the default), an unreachable Redis reports up with
   * `degraded: true`, so readiness does not fail for a cache outage.
   */
  required?: boolean;
}

/**
 * Terminus 12 indicator: PING with a timeout, its latency, the breaker state and the mode. Always returns a result
 * (up or down), never throws.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly cache: RedisCacheService,
  ) {}

  async isHealthy<const Key extends string = 'redis'>(
    key: Key = 'redis' as Key,
    options: RedisHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    const base = { mode: this.cache.mode, circuit: this.cache.getCircuitState() };
    try {
      const latencyMs = await this.cache.ping(options.timeoutMs ?? 500);
      return indicator.up({ ...base, latencyMs: Math.round(latencyMs * 100) / 100 });
    } catch (err) {
      const data = { ...base, message: (err as Error).message || 'unreachable' };
      return options.required ? indicator.down(data) : indicator.up({ ...data, degraded: true });
    }
  }
}
