/**
 * Nest's ordinary CacheInterceptor (from @nestjs/cache-manager, unmodified) on a small fixture app over real HTTP:
 * CACHE_MANAGER comes from RedisCacheModule, so responses land in Redis through the module's one client.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { CACHE_MANAGER, CacheInterceptor, CacheTTL } from '@nestjs/cache-manager';
import {
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  Param,
  UseInterceptors,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { CACHE_MANAGER_NAMESPACE, RedisCacheModule } from '@llm-cache/redis-cache';
import { HTTP_PLATFORMS, startOnPlatform } from '../harness/http-platform.js';
import { RedisServer } from '../harness/redis-server.js';
import { rawClient, TEST_COMMAND_TIMEOUT_MS } from './support.js';
import { setTimeout as sleep } from 'node:timers/promises';

@Injectable()
class Calls {
  count = 0;
}

@Controller('items')
@UseInterceptors(CacheInterceptor)
class ItemsController {
  constructor(private readonly calls: Calls) {}

  @Get(':id')
  item(@Param('id') id: string) {
    this.calls.count++;
    return { id, computedAt: this.calls.count };
  }

  @Get('short/:id')
  @CacheTTL(200)
  short(@Param('id') id: string) {
    this.calls.count++;
    return { id, computedAt: this.calls.count };
  }
}

@Controller('manager')
class ManagerController {
  constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}

  @Get('roundtrip')
  async roundtrip() {
    await this.cache.set('manual', { nested: { ok: true } }, 10_000);
    return { read: await this.cache.get('manual') };
  }
}

describe.each(HTTP_PLATFORMS)('CacheInterceptor over CACHE_MANAGER backed by Redis on %s', (platform) => {
  let redis: RedisServer;
  let raw: Redis;
  let app: INestApplication | undefined;
  let calls: Calls;
  let url: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = rawClient(redis.port);
    @Module({
      imports: [
        RedisCacheModule.forRoot({
          url: redis.url,
          keyPrefix: 'web',
          defaultTtlMs: 60_000,
          commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS,
        }),
      ],
      controllers: [ItemsController, ManagerController],
      providers: [Calls],
    })
    class FixtureModule {}
    const moduleRef = await Test.createTestingModule({ imports: [FixtureModule] }).compile();
    ({ app, url } = await startOnPlatform(moduleRef, platform));
    calls = app.get(Calls);
  });

  beforeEach(async () => {
    calls.count = 0;
    await raw.flushdb();
  });

  afterAll(async () => {
    await app?.close();
    raw?.disconnect();
    await redis?.stop();
  });

  it('serves the second identical request from Redis without calling the handler', async () => {
    const first = await request(url).get('/items/42').expect(200);
    expect(first.body).toEqual({ id: '42', computedAt: 1 });
    const second = await request(url).get('/items/42').expect(200);
    expect(second.body).toEqual({ id: '42', computedAt: 1 });
    expect(calls.count).toBe(1);
    // A different URL is a different entry.
    await request(url).get('/items/43').expect(200);
    expect(calls.count).toBe(2);
  });

  it('stores the response in Redis under <prefix>:<namespace>:<url> with the default TTL', async () => {
    await request(url).get('/items/7').expect(200);
    const key = `web:${CACHE_MANAGER_NAMESPACE}:/items/7`;
    expect(await raw.keys('*')).toEqual([key]);
    const stored = JSON.parse((await raw.get(key))!);
    expect(JSON.stringify(stored)).toContain('"computedAt":1');
    const pttl = await raw.pttl(key);
    expect(pttl).toBeGreaterThan(55_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('honours @CacheTTL in milliseconds: the entry expires and the handler runs again', async () => {
    await request(url).get('/items/short/1').expect(200);
    const pttl = await raw.pttl(`web:${CACHE_MANAGER_NAMESPACE}:/items/short/1`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(200);
    await request(url).get('/items/short/1').expect(200);
    expect(calls.count).toBe(1);
    await sleep(300);
    await request(url).get('/items/short/1').expect(200);
    expect(calls.count).toBe(2);
  });

  it('lets code use CACHE_MANAGER directly with the same Redis', async () => {
    const res = await request(url).get('/manager/roundtrip').expect(200);
    expect(res.body).toEqual({ read: { nested: { ok: true } } });
    expect(await raw.exists(`web:${CACHE_MANAGER_NAMESPACE}:manual`)).toBe(1);
  });

  it('keeps answering from the handler when Redis is gone', async () => {
    await redis.kill();
    try {
      for (let i = 1; i <= 3; i++) {
        const started = Date.now();
        const res = await request(url).get('/items/99').expect(200);
        expect(res.body.computedAt).toBe(i);
        expect(Date.now() - started).toBeLessThan(1000);
      }
    } finally {
      await redis.restart();
    }
  });
});
