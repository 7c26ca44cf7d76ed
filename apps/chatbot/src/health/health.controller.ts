import { Controller, Get, Header, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { RedisHealthIndicator } from '@llm-cache/redis-cache';
import { GracefulShutdown } from '../common/graceful-shutdown.js';
import type { HttpResponse } from '../common/http.types.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';

/**
 * Kubernetes probes. Liveness has no dependencies (a Redis outage must never get pods restarted). Readiness checks
 * Redis, but with fail-open caching an unreachable Redis reports `degraded` and stays ready, unless REDIS_REQUIRED.
 * From SIGTERM on readiness is down (`shutdown`) while the listener still serves (GracefulShutdown's drain).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisHealthIndicator,
    private readonly shutdown: GracefulShutdown,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  @Get('live')
  @Header('Cache-Control', 'no-store')
  live(@Res({ passthrough: true }) res: HttpResponse): Promise<HealthCheckResult> {
    return this.run(res, [() => this.process()]);
  }

  @Get('ready')
  @Header('Cache-Control', 'no-store')
  ready(@Res({ passthrough: true }) res: HttpResponse): Promise<HealthCheckResult> {
    // Shutting down: answer at once, without waiting on a Redis check that cannot change the answer.
    if (this.shutdown.shuttingDown) return this.run(res, [() => this.shutdownCheck()]);
    return this.run(res, [() => this.redisCheck()]);
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  all(@Res({ passthrough: true }) res: HttpResponse): Promise<HealthCheckResult> {
    return this.run(res, [() => this.process(), () => this.redisCheck()]);
  }

  private process() {
    return this.indicators
      .check('process')
      .up({ uptimeSeconds: Math.round(process.uptime()), pid: process.pid });
  }

  private shutdownCheck() {
    return this.indicators.check('shutdown').down();
  }

  private redisCheck() {
    return this.redis.isHealthy('redis', { required: this.config.redisRequired, timeoutMs: 500 });
  }

  /** Terminus reports "down" as a 503 exception; keep its body (not the API error shape) for probes and humans. */
  private async run(
    res: HttpResponse,
    checks: Parameters<HealthCheckService['check']>[0],
  ): Promise<HealthCheckResult> {
    try {
      return await this.health.check(checks);
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      res.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }
}
