import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { RedisHealthIndicator } from '@llm-cache/redis-cache';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redis: RedisHealthIndicator,
  ) {}

  /** Fail-open cache: Redis down reports `degraded: true` and stays up. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.redis.isHealthy('redis', { timeoutMs: 300 })]);
  }
}
