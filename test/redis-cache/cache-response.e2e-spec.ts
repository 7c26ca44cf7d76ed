/**
 * `@CacheResponse()` (RedisCacheInterceptor) on a small fixture app over real HTTP and a real redis-server: hits
 * skip the handler, controls and TTL are honoured, errors are never stored, identical concurrent misses call the
 * handler once, and a dead Redis only means the handler runs.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  Query,
  ServiceUnavailableException,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { CacheResponse, RedisCacheModule } from '@llm-cache/redis-cache';
import { HTTP_PLATFORMS, startOnPlatform } from '../harness/http-platform.js';
import { RedisServer } from '../harness/redis-server.js';
import { rawClient, sleep } from './support.js';

/** Generous for loopback on a loaded 2-core machine, short enough that the dead-Redis test stays quick. */
const COMMAND_TIMEOUT_MS = 250;
const SHORT_TTL_MS = 300;

@Injectable()
class Calls {
  count = 0;
  /** Calls of /flaky that throw before it starts answering. */
  failuresLeft = 0;
}

@Controller()
class FixtureController {
  constructor(private readonly calls: Calls) {}

  @Get('things/:id')
  @CacheResponse({ ttlMs: 60_000 })
  thing(@Param('id') id: string, @Query() query: Record<string, string>) {
    this.calls.count++;
    return { id, query, call: this.calls.count };
  }

  @Get('slow/:id')
  @CacheResponse({ ttlMs: 60_000 })
  async slow(@Param('id') id: string) {
    this.calls.count++;
    const call = this.calls.count;
    await sleep(150);
    return { id, call };
  }

  @Get('flaky/:id')
  @CacheResponse({ ttlMs: 60_000 })
  async flaky(@Param('id') id: string) {
    this.calls.count++;
    const call = this.calls.count;
    await sleep(100);
    if (this.calls.failuresLeft > 0) {
      this.calls.failuresLeft--;
      throw new ServiceUnavailableException(`flaky ${id} failed on call ${call}`);
    }
    return { id, call };
  }

  @Get('short/:id')
  @CacheResponse({ ttlMs: SHORT_TTL_MS })
  short(@Param('id') id: string) {
    this.calls.count++;
    return { id, call: this.calls.count };
  }
}

describe.each(HTTP_PLATFORMS)('@CacheResponse over Redis (RedisCacheInterceptor) on %s', (platform) => {
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
          commandTimeoutMs: COMMAND_TIMEOUT_MS,
          connectTimeoutMs: 500,
        }),
      ],
      controllers: [FixtureController],
      providers: [Calls],
    })
    class FixtureModule {}
    const moduleRef = await Test.createTestingModule({ imports: [FixtureModule] }).compile();
    ({ app, url } = await startOnPlatform(moduleRef, platform));
    calls = app.get(Calls);
  });

  beforeEach(async () => {
    calls.count = 0;
    calls.failuresLeft = 0;
    if (raw.status === 'ready') await raw.flushdb();
  });

  afterAll(async () => {
    await app?.close();
    raw?.disconnect();
    await redis?.stop();
  });

  it('serves the second identical GET from Redis without calling the handler, with X-Cache HIT and Age', async () => {
    const first = await request(url).get('/things/1?b=2&a=1').expect(200);
    expect(first.body).toEqual({ id: '1', query: { a: '1', b: '2' }, call: 1 });
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.headers['cache-status']).toBe('redis-cache; fwd=miss; stored');

    // Same query in another order: the same entry.
    const second = await request(url).get('/things/1?a=1&b=2').expect(200);
    expect(second.body).toEqual(first.body);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['age']).toBe('0');
    expect(second.headers['cache-status']).toMatch(/^redis-cache; hit; ttl=(59|60)$/);
    expect(calls.count).toBe(1);
  });

  it('stores the entry under <prefix>:resp:<sha256> with the route TTL', async () => {
    await request(url).get('/things/stored').expect(200);
    const keys = await raw.keys('*');
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^web:resp:[0-9a-f]{64}$/);
    const pttl = await raw.pttl(keys[0]);
    expect(pttl).toBeGreaterThan(55_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('reports the age of a hit in seconds in Age and the remaining ttl in Cache-Status', async () => {
    await request(url).get('/things/aging').expect(200);
    await sleep(1100);
    const hit = await request(url).get('/things/aging').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(Number(hit.headers['age'])).toBeGreaterThanOrEqual(1);
    expect(hit.headers['cache-status']).toMatch(/^redis-cache; hit; ttl=(57|58)$/);
    expect(calls.count).toBe(1);
  });

  it('answers a HEAD from the entry a GET stored', async () => {
    await request(url).get('/things/head').expect(200);
    const head = await request(url).head('/things/head').expect(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(calls.count).toBe(1);
  });

  it('treats a different query or path as a different entry', async () => {
    await request(url).get('/things/2?a=1').expect(200);
    const otherQuery = await request(url).get('/things/2?a=2').expect(200);
    expect(otherQuery.headers['x-cache']).toBe('MISS');
    expect(otherQuery.body.call).toBe(2);
    const otherPath = await request(url).get('/things/3?a=1').expect(200);
    expect(otherPath.headers['x-cache']).toBe('MISS');
    expect(calls.count).toBe(3);
  });

  it('bypasses the cache for Cache-Control: no-store (neither reads nor writes)', async () => {
    await request(url).get('/things/4').expect(200);
    const bypass = await request(url).get('/things/4').set('Cache-Control', 'no-store').expect(200);
    expect(bypass.headers['x-cache']).toBe('BYPASS');
    expect(bypass.headers['cache-status']).toBe('redis-cache; fwd=bypass');
    expect(bypass.body.call).toBe(2);

    const fresh = await request(url).get('/things/5').set('Cache-Control', 'no-store').expect(200);
    expect(fresh.headers['x-cache']).toBe('BYPASS');
    expect(await raw.dbsize()).toBe(1); // only /things/4's entry
    const after = await request(url).get('/things/5').expect(200);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(calls.count).toBe(4);
  });

  it('refreshes the entry for Cache-Control: no-cache (calls the handler, stores the new answer)', async () => {
    await request(url).get('/things/6').expect(200);
    const refreshed = await request(url)
      .get('/things/6')
      .set('Cache-Control', 'max-age=5, no-cache')
      .expect(200);
    expect(refreshed.headers['x-cache']).toBe('MISS');
    expect(refreshed.headers['cache-status']).toBe('redis-cache; fwd=request; stored');
    expect(refreshed.body.call).toBe(2);
    const hit = await request(url).get('/things/6').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.call).toBe(2);
    expect(calls.count).toBe(2);
  });

  it('never stores a handler error: the next request calls the handler again and its answer is cached', async () => {
    calls.failuresLeft = 1;
    const failed = await request(url).get('/flaky/1').expect(503);
    expect(failed.headers['x-cache']).toBeUndefined();
    expect(await raw.dbsize()).toBe(0);
    const ok = await request(url).get('/flaky/1').expect(200);
    expect(ok.body).toEqual({ id: '1', call: 2 });
    expect(ok.headers['x-cache']).toBe('MISS');
    const hit = await request(url).get('/flaky/1').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(calls.count).toBe(2);
  });

  it('calls the handler once for 20 identical concurrent misses; every caller gets its answer', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => request(url).get('/slow/1')));
    expect(calls.count).toBe(1);
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: '1', call: 1 });
    }
    const caches = responses.map((r) => r.headers['x-cache']);
    expect(caches.filter((c) => c === 'MISS')).toHaveLength(1);
    expect(caches.filter((c) => c === 'HIT')).toHaveLength(19);
  });

  it("does not hand a leader's error to concurrent followers: they call the handler themselves", async () => {
    calls.failuresLeft = 1;
    const responses = await Promise.all(Array.from({ length: 5 }, () => request(url).get('/flaky/2')));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 503]);
    for (const res of responses.filter((r) => r.status === 200)) {
      expect(res.body).toMatchObject({ id: '2' });
      expect(res.body.call).toBeGreaterThan(1);
    }
    // The leader's one call plus one each for the four followers.
    expect(calls.count).toBe(5);
    const hit = await request(url).get('/flaky/2').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(calls.count).toBe(5);
  });

  it('respects a short ttlMs: the entry expires and the handler runs again', async () => {
    await request(url).get('/short/1').expect(200);
    const [key] = await raw.keys('web:resp:*');
    const pttl = await raw.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(SHORT_TTL_MS);
    const hit = await request(url).get('/short/1').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(calls.count).toBe(1);
    await sleep(SHORT_TTL_MS + 150);
    const expired = await request(url).get('/short/1').expect(200);
    expect(expired.headers['x-cache']).toBe('MISS');
    expect(expired.body.call).toBe(2);
    expect(calls.count).toBe(2);
  });

  // Last: it kills the server.
  it('keeps answering 200 from the handler when Redis is killed', async () => {
    await request(url).get('/things/dead').expect(200);
    await redis.kill();
    for (let i = 2; i <= 4; i++) {
      const started = Date.now();
      const res = await request(url).get('/things/dead').expect(200);
      expect(res.body.call).toBe(i);
      expect(res.headers['x-cache']).toBe('MISS');
      expect(res.headers['cache-status']).toBe('redis-cache; fwd=miss');
      expect(Date.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS * 2 + 1000);
    }
    expect(calls.count).toBe(4);
  });
});
