import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { HTTP_PLATFORMS } from '../harness/http-platform.js';
import { call, sleep, startChatbot as startBot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

describe.each(HTTP_PLATFORMS)(
  'per-request cache controls (Cache-Control header and body `cache`) on %s',
  (platform) => {
    const startChatbot = (env: Record<string, string>) => startBot({ ...env, HTTP_PLATFORM: platform });
    let redis: RedisServer;
    let fake: FakeOpenAiServer;
    let bot: TestChatbot;
    let n = 0;
    /** A fresh question per test, so entries of one test never answer another. */
    let question: string;
    const completion = (headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
      call(`${bot.url}/v1/chat/completions`, {
        body: { model: 'fake-model', messages: [{ role: 'user', content: question }], ...extra },
        headers,
      });
    const chat = (headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
      call(`${bot.url}/chat`, { body: { message: question, ...extra }, headers });

    beforeAll(async () => {
      redis = await RedisServer.start();
      fake = await new FakeOpenAiServer().start();
      bot = await startChatbot(upstreamEnv(redis.url, fake.baseURL));
    });
    it(`runs on ${platform}`, () => {
      expect(bot.app.getHttpAdapter().getType()).toBe(platform);
    });
    afterAll(async () => {
      await bot?.close();
      await fake?.stop();
      await redis?.stop();
    });
    beforeEach(() => {
      fake.reset();
      question = `cache control question ${++n}`;
    });

    it('no-store bypasses the cache: no read, no write', async () => {
      await completion();
      const bypass = await completion({ 'cache-control': 'no-store' });
      expect(bypass.status).toBe(200);
      expect(bypass.headers.get('x-cache')).toBe('BYPASS');
      expect(bypass.headers.get('cache-status')).toMatch(/fwd=bypass/);
      expect(fake.callCount).toBe(2);

      question += ' fresh';
      await completion({ 'cache-control': 'no-store' });
      expect((await completion()).headers.get('x-cache')).toBe('MISS');
    });

    it('no-cache refreshes: calls the provider and stores the new answer', async () => {
      await completion();
      const refresh = await completion({ 'cache-control': 'no-cache' });
      expect(refresh.status).toBe(200);
      expect(refresh.headers.get('x-cache')).toBe('MISS');
      expect(refresh.headers.get('cache-status')).toMatch(/fwd=request/);
      expect(fake.callCount).toBe(2);
      const after = await completion();
      expect(after.headers.get('x-cache')).toBe('HIT');
      expect(Number(after.headers.get('age'))).toBeLessThanOrEqual(1);
      expect(fake.callCount).toBe(2);
    });

    it('max-age=N accepts only entries at most N seconds old', async () => {
      await completion();
      await sleep(1100);
      const fresh = await completion({ 'cache-control': 'max-age=0' });
      expect(fresh.headers.get('x-cache')).toBe('MISS');
      expect(fake.callCount).toBe(2);
      const lenient = await completion({ 'cache-control': 'max-age=3600' });
      expect(lenient.headers.get('x-cache')).toBe('HIT');
      expect(fake.callCount).toBe(2);
    });

    it('only-if-cached answers a hit and returns 504 on a miss without calling the provider', async () => {
      const miss = await completion({ 'cache-control': 'only-if-cached' });
      expect(miss.status).toBe(504);
      expect(miss.body.error).toMatchObject({ message: expect.stringContaining('only-if-cached') });
      expect(fake.callCount).toBe(0);
      await completion();
      const hit = await completion({ 'cache-control': 'only-if-cached' });
      expect(hit.status).toBe(200);
      expect(hit.headers.get('x-cache')).toBe('HIT');
      expect(fake.callCount).toBe(1);
    });

    it('accepts the same controls in the body `cache` field, which never reaches the provider', async () => {
      const miss = await completion({}, { cache: { 'only-if-cached': true } });
      expect(miss.status).toBe(504);
      await completion();
      const bypass = await completion({}, { cache: { noStore: true } });
      expect(bypass.headers.get('x-cache')).toBe('BYPASS');
      const refresh = await completion({}, { cache: { 'no-cache': true } });
      expect(refresh.headers.get('cache-status')).toMatch(/fwd=request/);
      expect(fake.calls.every((c) => !('cache' in c.body))).toBe(true);
      const hit = await completion({}, { cache: { maxAgeSeconds: 60 } });
      expect(hit.headers.get('x-cache')).toBe('HIT');
    });

    it('applies the controls to POST /chat too, header and body form', async () => {
      expect((await chat({ 'cache-control': 'only-if-cached' })).status).toBe(504);
      expect((await chat()).body.cached).toBe(false);
      expect((await chat()).body.cached).toBe(true);
      const bypass = await chat({}, { cache: { 'no-store': true } });
      expect(bypass.body.cached).toBe(false);
      expect(bypass.headers.get('x-cache')).toBe('BYPASS');
      const refresh = await chat({ 'cache-control': 'no-cache' });
      expect(refresh.body.cached).toBe(false);
      expect(fake.callCount).toBe(3);
    });

    it('rejects an invalid directive with a 400 naming it', async () => {
      const header = await completion({ 'cache-control': 'max-age=soon' });
      expect(header.status).toBe(400);
      expect(header.body.error.message).toMatch(/max-age/);
      const body = await completion({}, { cache: { 'max-age': -5 } });
      expect(body.status).toBe(400);
      expect(body.body.error.message).toMatch(/max-age/);
      expect(fake.callCount).toBe(0);
    });
  },
);
