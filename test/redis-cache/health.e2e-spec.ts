/**
 * RedisHealthIndicator (the Terminus 12 result shape, consumed by HealthCheckService) against a real server that is up, killed and hung, both
 * called directly and through Terminus' HealthCheckService on a fixture /health endpoint over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { RedisCacheModule, RedisHealthIndicator } from '@llm-cache/redis-cache';
import { RedisServer } from '../harness/redis-server.js';
import { timed, waitFor } from './support.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redis: RedisHealthIndicator,
  ) {}

  @Get('required')
  @HealthCheck()
  required() {
    return this.health.check([() => this.redis.isHealthy('redis', { timeoutMs: 100, required: true })]);
  }

  @Get('optional')
  @HealthCheck()
  optional() {
    return this.health.check([() => this.redis.isHealthy('redis', { timeoutMs: 100 })]);
  }
}

describe('RedisHealthIndicator', () => {
  let redis: RedisServer;
  let app: INestApplication | undefined;
  let indicator: RedisHealthIndicator;

  beforeAll(async () => {
    redis = await RedisServer.start();
    @Module({
      imports: [
        TerminusModule.forRoot({ logger: false }),
        RedisCacheModule.forRoot({
          url: redis.url,
          keyPrefix: 'health',
          commandTimeoutMs: 50,
          breaker: { failureThreshold: 2, resetTimeoutMs: 200 },
        }),
      ],
      controllers: [HealthController],
    })
    class FixtureModule {}
    const ref = await Test.createTestingModule({ imports: [FixtureModule] }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.init();
    indicator = app.get(RedisHealthIndicator);
  });

  afterAll(async () => {
    redis?.resume();
    await app?.close();
    await redis?.stop();
  });

  it('reports up with the PING latency, the mode and the breaker state', async () => {
    const result = await indicator.isHealthy('redis', { timeoutMs: 200, required: true });
    expect(result.redis).toMatchObject({ status: 'up', mode: 'standalone', circuit: 'closed' });
    const latencyMs = (result.redis as unknown as { latencyMs: number }).latencyMs;
    expect(typeof latencyMs).toBe('number');
    expect(latencyMs).toBeGreaterThanOrEqual(0);
    expect(latencyMs).toBeLessThan(200);
    const res = await request(app!.getHttpServer()).get('/health/required').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { redis: { status: 'up' } } });
  });

  it('reports a hung server down within its timeout when required, never throwing', async () => {
    redis.pause();
    try {
      const { value, ms } = await timed(() =>
        indicator.isHealthy('redis', { timeoutMs: 100, required: true }),
      );
      expect(ms).toBeLessThan(400);
      expect(value.redis).toMatchObject({ status: 'down', message: expect.stringMatching(/timed out/) });
      const http = await timed(() => request(app!.getHttpServer()).get('/health/required').expect(503));
      expect(http.ms).toBeLessThan(1000);
      expect(http.value.body).toMatchObject({ status: 'error', error: { redis: { status: 'down' } } });
    } finally {
      redis.resume();
    }
  });

  it('reports a dead server down when required, and up+degraded when Redis is optional', async () => {
    await redis.kill();
    try {
      const down = await indicator.isHealthy('redis', { timeoutMs: 100, required: true });
      expect(down.redis).toMatchObject({ status: 'down', mode: 'standalone' });
      expect((down.redis as unknown as { message: string }).message.length).toBeGreaterThan(0);

      const degraded = await indicator.isHealthy('redis', { timeoutMs: 100 });
      expect(degraded.redis).toMatchObject({ status: 'up', degraded: true });
      expect(degraded.redis).not.toHaveProperty('latencyMs');

      await request(app!.getHttpServer()).get('/health/required').expect(503);
      const optional = await request(app!.getHttpServer()).get('/health/optional').expect(200);
      expect(optional.body.info.redis).toMatchObject({ status: 'up', degraded: true });
    } finally {
      await redis.restart();
    }
    await waitFor(
      'health to come back',
      async () => {
        const r = await indicator.isHealthy('redis', { timeoutMs: 100, required: true });
        return r.redis.status === 'up';
      },
      10_000,
      100,
    );
  });
});
