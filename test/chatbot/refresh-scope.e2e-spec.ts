/**
 * A `Cache-Control: no-cache` refresh replaces only what the caller may replace: its own tenant's entry, and an entry
 * shared across tenants only with the admin token (else anyone could re-roll and pin an answer for everybody).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { call, startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

const ACME = 'key-acme-0001';
const GLOBEX = 'key-globex-0001';
const ADMIN = 'admin-token-0123456789';

describe('refresh scope', () => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let client: Redis;
  let n = 0;
  let question: string;
  const ask = (bot: TestChatbot, key: string, headers: Record<string, string> = {}, extra = {}) =>
    call(`${bot.url}/v1/chat/completions`, {
      body: {
        model: 'fake-model',
        messages: [{ role: 'user', content: question }],
        temperature: 0,
        ...extra,
      },
      headers: { authorization: `Bearer ${key}`, ...headers },
    });
  /** Raw values of every LLM entry under `prefix`, by key. */
  const entries = async (prefix: string) => {
    const keys = await client.keys(`${prefix}:llm:*`);
    const values = await Promise.all(keys.map((k) => client.getBuffer(k)));
    return new Map(keys.map((k, i) => [k, values[i]?.toString('base64')]));
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    client = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    client?.disconnect();
    await fake?.stop();
    await redis?.stop();
  });
  beforeEach(() => {
    fake.reset();
    question = `refresh scope question ${++n}`;
  });

  it("replaces only the caller's own tenant entry", async () => {
    const bot = await startChatbot(
      upstreamEnv(redis.url, fake.baseURL, {
        CHATBOT_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
        CACHE_PREFIX: 'own',
      }),
    );
    try {
      await ask(bot, ACME);
      await ask(bot, GLOBEX);
      const before = await entries('own');
      expect(before.size).toBe(2);
      const refreshed = await ask(bot, ACME, { 'cache-control': 'no-cache' });
      expect(refreshed.status).toBe(200);
      expect(fake.callCount).toBe(3);
      const after = await entries('own');
      const changed = [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
      expect(changed).toEqual([expect.stringMatching(/:acme:/)]);
      expect((await ask(bot, GLOBEX)).headers.get('x-cache')).toBe('HIT');
    } finally {
      await bot.close();
    }
  });

  describe('with CACHE_SHARE_ACROSS_TENANTS', () => {
    let bot: TestChatbot;
    beforeAll(async () => {
      bot = await startChatbot(
        upstreamEnv(redis.url, fake.baseURL, {
          CHATBOT_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
          CACHE_SHARE_ACROSS_TENANTS: 'true',
          ADMIN_TOKEN: ADMIN,
          CACHE_PREFIX: 'shared',
        }),
      );
    });
    afterAll(async () => bot?.close());

    it('shares one entry between tenants', async () => {
      expect((await ask(bot, ACME)).headers.get('x-cache')).toBe('MISS');
      expect((await ask(bot, GLOBEX)).headers.get('x-cache')).toBe('HIT');
      expect(fake.callCount).toBe(1);
    });

    it.each([
      ['a Cache-Control header', { 'cache-control': 'no-cache' }, {}],
      ['the body cache field', {}, { cache: { 'no-cache': true } }],
      ['a wrong admin token', { 'cache-control': 'no-cache', 'x-admin-token': 'not-the-admin' }, {}],
      ['a tenant key as admin token', { 'cache-control': 'no-cache', 'x-admin-token': ACME }, {}],
    ])(
      'refuses a refresh through %s without the admin token (403, no upstream call)',
      async (_n, headers, extra) => {
        await ask(bot, ACME);
        fake.reset();
        const before = await entries('shared');
        const res = await ask(bot, GLOBEX, headers, extra);
        expect(res.status).toBe(403);
        expect(res.body.error).toEqual({
          message: expect.stringMatching(/admin token/),
          type: 'permission_error',
          param: null,
          code: 'refresh_requires_admin',
        });
        expect(fake.callCount).toBe(0);
        expect(await entries('shared')).toEqual(before);
      },
    );

    it('refreshes the shared entry with the admin token', async () => {
      await ask(bot, ACME);
      const res = await ask(bot, GLOBEX, { 'cache-control': 'no-cache', 'x-admin-token': ADMIN });
      expect(res.status).toBe(200);
      expect(fake.callCount).toBe(2);
      // Plain reads need no admin token.
      expect((await ask(bot, GLOBEX)).headers.get('x-cache')).toBe('HIT');
    });
  });
});
