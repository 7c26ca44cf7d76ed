import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { call, startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

const ADMIN = 'admin-token-0123456789';
const KEY = 'key-admin-tenant-1';
const GLOBEX = 'key-admin-tenant-2';

describe('cache admin routes', () => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  const admin = (path: string, method = 'GET', token: string | null = ADMIN) =>
    call(`${bot.url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const chat = (message: string, key = KEY) =>
    call(`${bot.url}/chat`, { body: { message }, headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    bot = await startChatbot(
      upstreamEnv(redis.url, fake.baseURL, {
        ADMIN_TOKEN: ADMIN,
        CHATBOT_API_KEYS: `acme:${KEY},globex:${GLOBEX}`,
        CACHE_PREFIX: 'adm',
        // Bulk deletes pipeline thousands of UNLINKs: on this shared machine 50 ms per command can trip the breaker.
        REDIS_COMMAND_TIMEOUT_MS: '1000',
      }),
    );
  });
  afterAll(async () => {
    await bot?.close();
    await fake?.stop();
    await redis?.stop();
  });

  it.each([
    ['GET', '/cache/stats'],
    ['GET', '/cache/info'],
    ['DELETE', '/cache?pattern=*'],
  ])('rejects %s %s without the admin token (401) and with a wrong one (401)', async (method, path) => {
    const none = await admin(path, method, null);
    expect(none.status).toBe(401);
    expect(none.body.error.message).toMatch(/admin token/i);
    const wrong = await admin(path, method, 'not-the-admin-token');
    expect(wrong.status).toBe(401);
    // A tenant's API key is not an admin token.
    expect((await admin(path, method, KEY)).status).toBe(401);
  });

  it('reports hit ratio, tokens and dollars saved on GET /cache/stats', async () => {
    await chat('stats question');
    await chat('stats question');
    const { status, body } = await admin('/cache/stats');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      hits: expect.any(Number),
      misses: expect.any(Number),
      cacheHitRatio: expect.any(Number),
      tokensSaved: expect.any(Number),
      costSavedUsd: expect.any(Number),
    });
    expect(body.hits).toBeGreaterThanOrEqual(1);
    expect(body.misses).toBeGreaterThanOrEqual(1);
    expect(body.tokensSaved).toBeGreaterThan(0);
  });

  it('summarizes Redis INFO on GET /cache/info', async () => {
    const { status, body } = await admin('/cache/info');
    expect(status).toBe(200);
    expect(body).toMatchObject({ mode: 'standalone', connected: true, redisVersion: expect.any(String) });
    expect(body.keys).toBeGreaterThan(0);
    expect(body.nodes).toEqual([expect.stringContaining(String(redis.port))]);
  });

  it('deletes only LLM cache entries on DELETE /cache and returns the count', async () => {
    const first = await chat('to be cleared');
    await chat('to be cleared, too');
    const convKey = `adm:conv:acme:${first.body.conversationId}`;
    const { status, body } = await admin('/cache?pattern=*', 'DELETE');
    expect(status).toBe(200);
    expect(body.deleted).toBeGreaterThanOrEqual(2);
    expect((await chat('to be cleared')).body.cached).toBe(false);
    // Conversations are not part of the LLM cache: the history survives a cache clear.
    const client = new Redis(redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      expect(await client.exists(convKey)).toBe(1);
    } finally {
      client.disconnect();
    }
  });

  it('needs an explicit pattern or tenant: DELETE /cache alone is a 400, not "delete everything"', async () => {
    await chat('kept because nothing was asked');
    const res = await admin('/cache', 'DELETE');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: 'pattern', code: 'missing_required_parameter' });
    expect((await chat('kept because nothing was asked')).body.cached).toBe(true);
    expect((await admin('/cache?pattern=*&tenant=acme', 'DELETE')).status).toBe(400);
    expect((await admin('/cache?tenant=a*', 'DELETE')).body.error.param).toBe('tenant');
  });

  it('deletes exactly one tenant with tenant=<name>', async () => {
    await chat('tenant scoped question');
    await chat('tenant scoped question', GLOBEX);
    const { status, body } = await admin('/cache?tenant=acme', 'DELETE');
    expect(status).toBe(200);
    expect(body).toMatchObject({ complete: true, pattern: expect.stringMatching(/^v\d+:acme:\*$/) });
    expect(body.deleted).toBeGreaterThanOrEqual(1);
    expect((await chat('tenant scoped question')).body.cached).toBe(false);
    expect((await chat('tenant scoped question', GLOBEX)).body.cached).toBe(true);
  });

  it('says complete:false with the count so far when the deadline cuts the scan', async () => {
    const client = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      const total = 5_000;
      for (let i = 0; i < total; i += 1000) {
        const pipeline = client.pipeline();
        for (let j = i; j < i + 1000; j++) pipeline.set(`adm:llm:v9:bulk:${j}`, 'x', 'EX', 600);
        await pipeline.exec();
      }
      const { status, body } = await admin('/cache?pattern=v9:bulk:*&deadlineMs=1', 'DELETE');
      expect(status).toBe(200);
      expect(body.complete).toBe(false);
      expect(body.deleted).toBeLessThan(total);
      expect(body.deleted).toBe(total - (await client.keys('adm:llm:v9:bulk:*')).length);
      const rest = await admin('/cache?pattern=v9:bulk:*', 'DELETE');
      expect(rest.body.complete).toBe(true);
      expect(rest.body.deleted).toBeGreaterThan(0);
      expect(await client.keys('adm:llm:v9:bulk:*')).toEqual([]);
    } finally {
      client.disconnect();
    }
  });

  it('answers 503 with the reason on every admin route when Redis is unavailable', async () => {
    const own = await RedisServer.start();
    const down = await startChatbot(
      upstreamEnv(own.url, fake.baseURL, { ADMIN_TOKEN: ADMIN, CHATBOT_API_KEYS: `acme:${KEY}` }),
    );
    try {
      await own.kill();
      for (const [method, path] of [
        ['DELETE', '/cache?pattern=*'],
        ['GET', '/cache/stats'],
        ['GET', '/cache/info'],
      ]) {
        const res = await call(`${down.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${ADMIN}` },
        });
        expect([path, res.status]).toEqual([path, 503]);
        expect(res.body.error).toMatchObject({
          message: expect.stringMatching(/Redis unavailable: \S+/),
          type: 'server_error',
          code: 'redis_unavailable',
          param: null,
        });
      }
    } finally {
      await down.close();
      await own.stop();
    }
  });

  it('rejects an invalid pattern with 400 naming it', async () => {
    const res = await admin(`/cache?pattern=${encodeURIComponent('a b')}`, 'DELETE');
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('pattern');
  });

  it('disables the admin routes (403) when ADMIN_TOKEN is unset', async () => {
    const open = await startChatbot(upstreamEnv(redis.url, fake.baseURL, { CACHE_PREFIX: 'adm2' }));
    try {
      const res = await call(`${open.url}/cache/stats`, {
        headers: { authorization: 'Bearer anything-at-all' },
      });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/ADMIN_TOKEN/);
    } finally {
      await open.close();
    }
  });
});
