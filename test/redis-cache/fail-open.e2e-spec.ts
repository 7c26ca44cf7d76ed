/**
 * Fail-open against real failures of a real redis-server: killed (SIGKILL), hung (SIGSTOP) and absent at start-up.
 * Every cache call returns within a bound, a fixture HTTP app keeps answering 200 from its handler, the breaker opens
 * after `failureThreshold` failures (after which a call costs ~0 ms), and the module recovers by itself.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, Param, type INestApplication } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import request from 'supertest';
import { RedisCacheModule, RedisCacheService, type RedisCacheModuleOptions } from '@llm-cache/redis-cache';
import { freePort, RedisServer } from '../harness/redis-server.js';
import { cacheModule, timed, waitFor } from './support.js';
import { setTimeout as sleep } from 'node:timers/promises';

const COMMAND_TIMEOUT_MS = 50;
/** A generous bound for a call whose timeout is 50 ms, on a loaded 2-core machine. */
const CALL_BOUND_MS = 250;
const THRESHOLD = 3;

const options = (url: string): RedisCacheModuleOptions => ({
  url,
  keyPrefix: 'fo',
  commandTimeoutMs: COMMAND_TIMEOUT_MS,
  connectTimeoutMs: 500,
  breaker: { failureThreshold: THRESHOLD, resetTimeoutMs: 300 },
  // These specs are about the fixed bound and the breaker; the adaptive deadline has its own describe below.
  adaptiveTimeout: false,
});

@Injectable()
class Answers {
  computed = 0;
}

/** What a real caller does: look up, compute on a miss, store. */
@Controller('answer')
class AnswerController {
  constructor(
    private readonly cache: RedisCacheService,
    private readonly answers: Answers,
  ) {}

  @Get(':q')
  async answer(@Param('q') q: string) {
    const cached = await this.cache.get<{ q: string }>(`answer:${q}`);
    if (cached) return { ...cached, source: 'cache' };
    this.answers.computed++;
    await this.cache.set(`answer:${q}`, { q });
    return { q, source: 'handler' };
  }
}

async function startApp(url: string): Promise<INestApplication> {
  @Module({
    imports: [RedisCacheModule.forRoot(options(url))],
    controllers: [AnswerController],
    providers: [Answers],
  })
  class FixtureModule {}
  const ref = await Test.createTestingModule({ imports: [FixtureModule] }).compile();
  const app = ref.createNestApplication({ logger: false });
  await app.init();
  return app;
}

/** Runs `n` service calls of every kind, returning the slowest. */
async function slowestCall(cache: RedisCacheService, n: number): Promise<number> {
  let slowest = 0;
  for (let i = 0; i < n; i++) {
    for (const call of [
      () => cache.get('k'),
      () => cache.set('k', { i }),
      () => cache.getMany(['k', 'j']),
      () => cache.delete('k'),
      () => cache.exists('k'),
      () => cache.acquireLock('lock', 1000),
    ]) {
      const { ms } = await timed(call);
      slowest = Math.max(slowest, ms);
    }
  }
  return slowest;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('fail-open: Redis killed mid-test', () => {
  let redis: RedisServer;
  let app: INestApplication | undefined;
  let cache: RedisCacheService;

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = await startApp(redis.url);
    cache = app.get(RedisCacheService);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('serves from Redis while it is up', async () => {
    await request(app!.getHttpServer()).get('/answer/a').expect(200, { q: 'a', source: 'handler' });
    await request(app!.getHttpServer()).get('/answer/a').expect(200, { q: 'a', source: 'cache' });
  });

  it('after kill: every call returns within the bound, nothing throws, the app keeps answering 200', async () => {
    await redis.kill();
    expect(await slowestCall(cache, 5)).toBeLessThan(CALL_BOUND_MS);
    expect(await cache.get('answer:a')).toBeUndefined();
    expect(await cache.set('x', 1)).toBe(false);
    expect(await cache.clear('*')).toBe(0);
    expect((await cache.acquireLock('l', 100)).status).toBe('unavailable');
    expect(await cache.exists('x')).toBeUndefined();
    expect(await cache.getStats()).toEqual({ hits: 0, misses: 0, hitRatio: 0 });
    expect((await cache.getCacheInfo()).connected).toBe(false);
    await expect(cache.ping(100)).rejects.toThrow();
    const answers = app!.get(Answers);
    const before = answers.computed;
    for (let i = 0; i < 5; i++) {
      const { ms } = await timed(async () =>
        request(app!.getHttpServer()).get('/answer/a').expect(200, { q: 'a', source: 'handler' }),
      );
      expect(ms).toBeLessThan(1000);
    }
    expect(answers.computed).toBe(before + 5);
  });

  it('has opened the breaker, after which a call costs ~0 ms', async () => {
    expect(cache.getCircuitState()).toBe('open');
    expect(cache.isAvailable()).toBe(false);
    const costs: number[] = [];
    for (let i = 0; i < 50; i++) costs.push((await timed(() => cache.get('k'))).ms);
    expect(median(costs)).toBeLessThan(2);
  });

  it('after restart the module reconnects by itself and the cache works again', async () => {
    await redis.restart();
    const waited = await waitFor(
      'the cache to work again',
      async () => (await cache.set('back', 1)) && (await cache.get('back')) === 1,
      10_000,
      50,
    );
    expect(waited).toBeLessThan(10_000);
    expect(cache.isConnected()).toBe(true);
    expect(cache.getCircuitState()).toBe('closed');
    await request(app!.getHttpServer()).get('/answer/b').expect(200, { q: 'b', source: 'handler' });
    await request(app!.getHttpServer()).get('/answer/b').expect(200, { q: 'b', source: 'cache' });
  });
});

describe('fail-open: hung Redis (SIGSTOP)', () => {
  let redis: RedisServer;
  let mod: TestingModule | undefined;
  let cache: RedisCacheService;

  beforeAll(async () => {
    redis = await RedisServer.start();
    mod = await cacheModule(options(redis.url));
    cache = mod.get(RedisCacheService);
  });

  afterEach(() => redis.resume());

  afterAll(async () => {
    redis?.resume();
    await mod?.close();
    await redis?.stop();
  });

  it('bounds each call by the command timeout, opens the breaker, and recovers after resume', async () => {
    await cache.set('k', 'before');
    redis.pause();
    const durations: number[] = [];
    for (let i = 0; i < THRESHOLD; i++) {
      const { value, ms } = await timed(() => cache.get('k'));
      expect(value).toBeUndefined();
      durations.push(ms);
    }
    // Each call really waited for the hung server (the timeout fired), and no longer than the bound.
    for (const ms of durations) {
      expect(ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 5);
      expect(ms).toBeLessThan(CALL_BOUND_MS);
    }
    expect(cache.getCircuitState()).toBe('open');
    // Still connected at TCP level: only the breaker protects callers now.
    expect(cache.isConnected()).toBe(true);
    const whileOpen: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { value, ms } = await timed(() => cache.set('k', 'during'));
      expect(value).toBe(false);
      whileOpen.push(ms);
    }
    // Skipped, not waited for: far below the 50 ms a hung call costs.
    expect(median(whileOpen)).toBeLessThan(5);
    // A half-open probe against the still-hung server is bounded too, and re-opens the breaker.
    await sleep(350);
    const probe = await timed(() => cache.get('k'));
    expect(probe.ms).toBeLessThan(CALL_BOUND_MS);
    expect(cache.getCircuitState()).toBe('open');

    redis.resume();
    await waitFor(
      'the breaker to close after a successful probe',
      async () => {
        await cache.get('k');
        return cache.getCircuitState() === 'closed';
      },
      5000,
      100,
    );
    expect(await cache.get('k')).toBe('before');
  });

  it('bounds the health PING of a hung server by its timeout', async () => {
    redis.pause();
    const { ms } = await timed(() => cache.ping(100).catch((e: Error) => e.message));
    expect(ms).toBeLessThan(CALL_BOUND_MS);
  });
});

describe('fail-open: hung Redis with the adaptive deadline (the default)', () => {
  let redis: RedisServer;
  let mod: TestingModule | undefined;
  let cache: RedisCacheService;

  beforeAll(async () => {
    redis = await RedisServer.start();
    // The module's defaults (floor 5 ms, 4 × the recent p99), capped by the same 50 ms.
    mod = await cacheModule({ ...options(redis.url), adaptiveTimeout: {} });
    cache = mod.get(RedisCacheService);
  });

  afterEach(() => redis.resume());

  afterAll(async () => {
    redis?.resume();
    await mod?.close();
    await redis?.stop();
  });

  it('costs a request one short deadline when Redis hangs, not one per command, and recovers after resume', async () => {
    await cache.set('k', 'before');
    // Enough healthy commands for the deadline to follow Redis' latency (loopback: far below the 50 ms cap).
    for (let i = 0; i < 300; i++) await cache.get('k');
    const deadlineMs = cache.currentCommandTimeoutMs();
    expect(deadlineMs).toBeLessThan(COMMAND_TIMEOUT_MS);

    redis.pause();
    // One request's cache work on a miss: lookup, lock, store. The lookup waits its deadline; the rest fail fast.
    const lookup = await timed(() => cache.get('k'));
    const rest = await timed(async () => {
      await cache.acquireLock('lock:k', 1000);
      await cache.set('k2', 'x');
    });
    expect(lookup.value).toBeUndefined();
    expect(lookup.ms).toBeGreaterThanOrEqual(deadlineMs - 1);
    expect(lookup.ms).toBeLessThan(deadlineMs + 50);
    expect(rest.ms).toBeLessThan(5);
    // Requests arriving during the outage skip Redis entirely.
    const later = await timed(() => cache.get('k'));
    expect(later.ms).toBeLessThan(5);

    redis.resume();
    await waitFor('Redis to be used again', async () => (await cache.get('k')) === 'before', 5000, 50);
  });
});

describe('fail-open: Redis absent at start-up', () => {
  let port: number;
  let late: RedisServer | undefined;
  let mod: TestingModule | undefined;

  beforeAll(async () => {
    port = await freePort();
  });

  afterAll(async () => {
    await mod?.close();
    await late?.stop();
  });

  it('initializes within ~connectTimeoutMs with nothing listening, serves misses, then connects when Redis appears', async () => {
    const { value, ms } = await timed(() => cacheModule(options(`redis://127.0.0.1:${port}`)));
    mod = value;
    expect(ms).toBeLessThan(500 + 1000);
    const cache = mod.get(RedisCacheService);
    expect(cache.isConnected()).toBe(false);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);

    late = await RedisServer.start({ port });
    await waitFor('the module to connect to the late server', () => cache.isConnected(), 10_000);
    await waitFor('a write to land', async () => cache.set('k', 1), 5000);
    expect(await cache.get('k')).toBe(1);
  });
});

describe('fail-open: Redis hung at start-up', () => {
  let redis: RedisServer;
  let mod: TestingModule | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    redis?.resume();
    await mod?.close();
    await redis?.stop();
  });

  it('initializes within ~connectTimeoutMs when the server accepts but never answers, and connects after resume', async () => {
    redis.pause();
    const { value, ms } = await timed(() => cacheModule(options(redis.url)));
    mod = value;
    expect(ms).toBeLessThan(500 + 1000);
    const cache = mod.get(RedisCacheService);
    const miss = await timed(() => cache.get('k'));
    expect(miss.value).toBeUndefined();
    expect(miss.ms).toBeLessThan(CALL_BOUND_MS);
    redis.resume();
    await waitFor('the module to become ready', () => cache.isConnected(), 10_000);
    await waitFor('a write to land', async () => cache.set('k', 2), 5000);
    expect(await cache.get('k')).toBe(2);
  });
});
