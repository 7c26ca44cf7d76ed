import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { HTTP_PLATFORMS } from '../harness/http-platform.js';
import {
  call,
  startChatbot as startBot,
  upstreamEnv,
  waitFor,
  type TestChatbot,
} from './chatbot-test-app.js';

describe.each(HTTP_PLATFORMS)(
  'Redis outage during a run, health probes and graceful shutdown on %s',
  (platform) => {
    const startChatbot = (env: Record<string, string>) => startBot({ ...env, HTTP_PLATFORM: platform });
    let redis: RedisServer;
    let fake: FakeOpenAiServer;
    let bot: TestChatbot;
    let strict: TestChatbot;
    const chat = (target: TestChatbot, message: string) => call(`${target.url}/chat`, { body: { message } });
    const ready = (target: TestChatbot) => call(`${target.url}/health/ready`);

    beforeAll(async () => {
      redis = await RedisServer.start();
      fake = await new FakeOpenAiServer().start();
      const tight = { REDIS_COMMAND_TIMEOUT_MS: '50', REDIS_CONNECT_TIMEOUT_MS: '500' };
      bot = await startChatbot(upstreamEnv(redis.url, fake.baseURL, tight));
      strict = await startChatbot(
        upstreamEnv(redis.url, fake.baseURL, { ...tight, REDIS_REQUIRED: 'true', CACHE_PREFIX: 'strict' }),
      );
    });
    it(`runs on ${platform}`, () => {
      expect(bot.app.getHttpAdapter().getType()).toBe(platform);
    });
    afterAll(async () => {
      await bot?.close();
      await strict?.close();
      await fake?.stop();
      await redis?.stop();
    });
    beforeEach(() => fake.reset());

    it('reports live and ready with Redis up', async () => {
      const live = await call(`${bot.url}/health/live`);
      expect(live.status).toBe(200);
      expect(live.body).toMatchObject({ status: 'ok', info: { process: { status: 'up' } } });
      const r = await ready(bot);
      expect(r.status).toBe(200);
      expect(r.body.info.redis).toMatchObject({
        status: 'up',
        mode: 'standalone',
        latencyMs: expect.any(Number),
      });
      expect(r.body.info.redis.degraded).toBeUndefined();
      const all = await call(`${bot.url}/health`);
      expect(all.status).toBe(200);
      expect(Object.keys(all.body.info).sort()).toEqual(['process', 'redis']);
    });

    it('keeps answering chats while Redis is killed mid-run, reports it on /health/ready, and recovers', async () => {
      const statuses: number[] = [];
      const slowest = { ms: 0 };
      const timed = async (message: string) => {
        const start = performance.now();
        const res = await chat(bot, message);
        slowest.ms = Math.max(slowest.ms, performance.now() - start);
        statuses.push(res.status);
        return res;
      };
      await timed('outage warm-up');
      expect((await timed('outage warm-up')).body.cached).toBe(true);

      // Kill Redis while requests are in flight.
      const inFlight = Array.from({ length: 10 }, (_, i) => timed(`during the kill ${i}`));
      await redis.kill();
      await Promise.all(inFlight);
      for (let i = 0; i < 10; i++) {
        const res = await timed(`after the kill ${i % 3}`);
        expect(res.body.cached).toBe(false);
      }
      expect(statuses.every((s) => s === 200)).toBe(true);
      // Fail-open costs at most a command timeout per cache call, and then the breaker stops paying even that.
      expect(slowest.ms).toBeLessThan(1500);

      const degraded = await ready(bot);
      expect(degraded.status).toBe(200);
      expect(degraded.body.info.redis).toMatchObject({ status: 'up', degraded: true });
      expect((await call(`${bot.url}/health/live`)).status).toBe(200);

      const strictReady = await ready(strict);
      expect(strictReady.status).toBe(503);
      expect(strictReady.body).toMatchObject({ status: 'error', error: { redis: { status: 'down' } } });
      expect((await call(`${strict.url}/health/live`)).status).toBe(200);
      expect((await chat(strict, 'strict still answers')).status).toBe(200);

      await redis.restart();
      const recovered = await waitFor(async () => {
        const r = await ready(bot);
        return r.status === 200 && r.body.info.redis.degraded === undefined;
      }, 10_000);
      expect(recovered).toBe(true);
      expect(await waitFor(async () => (await ready(strict)).status === 200, 10_000)).toBe(true);
      // The cache is used again: a new question is stored and then served from Redis.
      const back = await waitFor(async () => {
        await chat(bot, 'after recovery');
        return (await chat(bot, 'after recovery')).body.cached === true;
      }, 10_000);
      expect(back).toBe(true);
    });

    it('finishes in-flight requests on shutdown, then stops accepting and quits Redis', async () => {
      const closing = await startChatbot(upstreamEnv(redis.url, fake.baseURL, { CACHE_PREFIX: 'closing' }));
      const admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      const appConnections = async () =>
        String(await admin.call('CLIENT', 'LIST'))
          .split('\n')
          .filter((line) => line.includes('name=closing')).length;
      expect(await appConnections()).toBeGreaterThan(0);
      const slow = chat(closing, 'take your time __slow_600__');
      await waitFor(() => fake.callCount === 1, 3000);
      const started = performance.now();
      await closing.close();
      const res = await slow;
      expect(res.status).toBe(200);
      expect(res.body.reply).toContain('take your time');
      // close() waited for the in-flight answer, and not much longer (keep-alive sockets are swept).
      const closeMs = performance.now() - started;
      expect(closeMs).toBeGreaterThan(300);
      expect(closeMs).toBeLessThan(2500);
      await expect(
        fetch(`${closing.url}/health/live`, { signal: AbortSignal.timeout(2000) }),
      ).rejects.toThrow();
      try {
        expect(await waitFor(async () => (await appConnections()) === 0, 3000)).toBe(true);
      } finally {
        admin.disconnect();
      }
    });
  },
);
