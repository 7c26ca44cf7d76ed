/**
 * The cost guard: one caller must not be able to run up the upstream bill. Model allow-list, n and max_tokens caps
 * (refused before any upstream call), and per-tenant RATE_LIMIT_RPM / TOKEN_BUDGET_PER_DAY shared by two replicas
 * through real Redis, degrading to per-process counters when Redis dies.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { call, startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

const ACME = 'key-acme-0001';
const GLOBEX = 'key-globex-0001';
const KEYS = `acme:${ACME},globex:${GLOBEX}`;

describe('cost guard', () => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  const bots: TestChatbot[] = [];
  const start = async (extra: Record<string, string>, redisUrl: string | undefined = redis.url) => {
    const bot = await startChatbot(upstreamEnv(redisUrl, fake.baseURL, { CHATBOT_API_KEYS: KEYS, ...extra }));
    bots.push(bot);
    return bot;
  };
  const completion = (bot: TestChatbot, body: Record<string, unknown>, key = ACME) =>
    call(`${bot.url}/v1/chat/completions`, {
      body: { model: 'fake-model', messages: [{ role: 'user', content: 'hello' }], ...body },
      headers: { authorization: `Bearer ${key}` },
    });

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
  });
  afterEach(async () => {
    for (const bot of bots.splice(0)) await bot.close();
    fake.reset();
  });
  afterAll(async () => {
    await fake?.stop();
    await redis?.stop();
  });

  describe('request caps', () => {
    it('allows LLM_MODEL alone by default: another model → 400 model_not_allowed, no upstream call', async () => {
      const bot = await start({});
      const res = await completion(bot, { model: 'gpt-4o' });
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({
        message: expect.stringMatching(/gpt-4o.*not allowed.*fake-model/),
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_allowed',
      });
      const chat = await call(`${bot.url}/chat`, {
        body: { message: 'hi', model: 'gpt-4o' },
        headers: { authorization: `Bearer ${ACME}` },
      });
      expect(chat.status).toBe(400);
      expect(chat.body.error.code).toBe('model_not_allowed');
      expect(fake.callCount).toBe(0);
      expect((await completion(bot, {})).status).toBe(200);
      const models = await call(`${bot.url}/v1/models`, { headers: { authorization: `Bearer ${ACME}` } });
      expect(models.body.data.map((m: { id: string }) => m.id)).toEqual(['fake-model']);
    });

    it('lists LLM_ALLOWED_MODELS in /v1/models and accepts any model with *', async () => {
      const listed = await start({
        LLM_ALLOWED_MODELS: 'fake-model, fake-model-2',
        CACHE_PREFIX: 'models-list',
      });
      const models = await call(`${listed.url}/v1/models`, { headers: { authorization: `Bearer ${ACME}` } });
      expect(models.body.data.map((m: { id: string }) => m.id)).toEqual(['fake-model', 'fake-model-2']);
      expect((await completion(listed, { model: 'fake-model-2' })).status).toBe(200);
      const any = await start({ LLM_ALLOWED_MODELS: '*' });
      expect((await completion(any, { model: 'whatever-model' })).status).toBe(200);
    });

    it.each([
      [{ n: 2 }, 'n'],
      [{ max_tokens: 4097 }, 'max_tokens'],
      [{ max_completion_tokens: 100_000 }, 'max_completion_tokens'],
    ])(
      'refuses %j above LLM_MAX_N / LLM_MAX_TOKENS with 400 naming %s, no upstream call',
      async (extra, param) => {
        const bot = await start({});
        const res = await completion(bot, extra);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
        expect(fake.callCount).toBe(0);
      },
    );

    it('honours LLM_MAX_N and LLM_MAX_TOKENS', async () => {
      const bot = await start({ LLM_MAX_N: '2', LLM_MAX_TOKENS: '50' });
      expect((await completion(bot, { n: 2, max_tokens: 50, temperature: 0 })).status).toBe(200);
      expect((await completion(bot, { max_tokens: 51 })).status).toBe(400);
    });
  });

  describe('RATE_LIMIT_RPM', () => {
    it('limits each tenant across replicas with OpenAI 429s and headers', async () => {
      const a = await start({ RATE_LIMIT_RPM: '3', CACHE_PREFIX: 'rpm-shared' });
      const b = await start({ RATE_LIMIT_RPM: '3', CACHE_PREFIX: 'rpm-shared' });
      const ok = [
        await completion(a, { messages: [{ role: 'user', content: 'one' }] }),
        await completion(b, { messages: [{ role: 'user', content: 'two' }] }),
        await completion(a, { messages: [{ role: 'user', content: 'one' }] }), // a cache hit still counts
      ];
      expect(ok.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(ok[1].headers.get('x-ratelimit-limit-requests')).toBe('3');
      expect(ok[1].headers.get('x-ratelimit-remaining-requests')).toBe('1');
      expect(ok[1].headers.get('x-ratelimit-reset-requests')).toMatch(/^(1m0s|\d+s)$/);

      const refused = await completion(b, { messages: [{ role: 'user', content: 'four' }] });
      expect(refused.status).toBe(429);
      expect(refused.body.error).toEqual({
        message: expect.stringMatching(/3 requests per minute/),
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(fake.callCount).toBe(2);
      // Another tenant has its own window.
      expect((await completion(a, {}, GLOBEX)).status).toBe(200);
    });

    it('falls back to per-process counters when Redis is down: still limited, never an error', async () => {
      const own = await RedisServer.start();
      try {
        const bot = await start({ RATE_LIMIT_RPM: '2', REDIS_COMMAND_TIMEOUT_MS: '50' }, own.url);
        await own.kill();
        const statuses: number[] = [];
        for (const content of ['x1', 'x2', 'x3', 'x4']) {
          statuses.push((await completion(bot, { messages: [{ role: 'user', content }] })).status);
        }
        expect(statuses).toEqual([200, 200, 429, 429]);
      } finally {
        await own.stop();
      }
    });
  });

  describe('TOKEN_BUDGET_PER_DAY', () => {
    it('refuses upstream calls once a tenant spent its tokens, still serves its cache hits, shares it across replicas', async () => {
      const a = await start({ TOKEN_BUDGET_PER_DAY: '5', CACHE_PREFIX: 'budget-shared' });
      const b = await start({ TOKEN_BUDGET_PER_DAY: '5', CACHE_PREFIX: 'budget-shared' });
      const first = await completion(a, { messages: [{ role: 'user', content: 'spend my tokens please' }] });
      expect(first.status).toBe(200);
      expect(first.body.usage.total_tokens).toBeGreaterThan(5);

      const refused = await completion(b, { messages: [{ role: 'user', content: 'something new' }] });
      expect(refused.status).toBe(429);
      expect(refused.body.error).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded', param: null });
      expect(refused.headers.get('x-ratelimit-limit-tokens')).toBe('5');
      expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
      expect(refused.headers.get('x-ratelimit-reset-tokens')).toMatch(/^(\d+h)?(\d+m)?\d+s$/);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

      const streamed = await completion(b, {
        stream: true,
        messages: [{ role: 'user', content: 'stream new' }],
      });
      expect(streamed.status).toBe(429);
      expect(fake.callCount).toBe(1);

      const hit = await completion(b, { messages: [{ role: 'user', content: 'spend my tokens please' }] });
      expect(hit.status).toBe(200);
      expect(hit.headers.get('x-cache')).toBe('HIT');
      expect(
        (await completion(a, { messages: [{ role: 'user', content: 'globex own budget' }] }, GLOBEX)).status,
      ).toBe(200);
      expect(fake.callCount).toBe(2);
    });
  });
});
