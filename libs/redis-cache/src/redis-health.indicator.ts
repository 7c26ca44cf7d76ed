import { Injectable } from '@nestjs/common';
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
 * One indicator's result, `{ [key]: { status, ...details } }`: the shape of Terminus' `HealthIndicatorResult`
 * (assignable to it), declared here so this package does not need `@nestjs/terminus` (an optional peer) at run
 * time or in its types.
 */
export type RedisHealthIndicatorResult<Key extends string = 'redis'> = Record<
  Key,
  { status: 'up' | 'down' } & Record<string, unknown>
>;

/**
 * Indicator for Terminus' `HealthCheckService.check([() => redis.isHealthy()])`: PING with a timeout, its latency,
 * the breaker state and the mode. Always returns a result (up or down), never throws. It builds the result itself
 * (what Terminus 12's `HealthIndicatorService.check(key).up()/down()` does), so the module can provide it whether or
 * not the app installs `@nestjs/terminus`.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(private readonly cache: RedisCacheService) {}

  async isHealthy<const Key extends string = 'redis'>(
    key: Key = 'redis' as Key,
    options: RedisHealthCheckOptions = {},
  ): Promise<RedisHealthIndicatorResult<Key>> {
    const base = { mode: this.cache.mode, circuit: this.cache.getCircuitState() };
    try {
      const latencyMs = await this.cache.ping(options.timeoutMs ?? 500);
      return result(key, 'up', { ...base, latencyMs: Math.round(latencyMs * 100) / 100 });
    } catch (err) {
      const data = { ...base, message: (err as Error).message || 'unreachable' };
      return options.required ? result(key, 'down', data) : result(key, 'up', { ...data, degraded: true });
    }
  }
}

function result<Key extends string>(
  key: Key,
  status: 'up' | 'down',
  data: Record<string, unknown>,
): RedisHealthIndicatorResult<Key> {
  return { [key]: { ...data, status } } as RedisHealthIndicatorResult<Key>;
}
