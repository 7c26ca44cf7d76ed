import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  LlmCacheMissError,
  LlmProviderError,
  LlmRequestValidationError,
  type ChatCompletionRequest,
} from '@llm-cache/llm';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { chat, createLlmFixture, type LlmFixture } from './llm-fixture.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * The commands this process sends to Redis from now on, lower-cased (MONITOR; commands a script runs arrive from
 * "lua" and are left out, as is the monitor's own INFO). `stop()` closes both connections monitor() opened, or the
 * first one reconnects forever once this file's Redis stops (and keeps Jest from exiting).
 */
async function recordRoundTrips(url: string): Promise<{ sent: string[]; stop: () => void }> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const monitor = await client.monitor();
  const sent: string[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && args[0] !== 'info') sent.push(args[0].toLowerCase());
  });
  return {
    sent,
    stop: () => {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

describe('generateTextWithCache against real Redis and a real OpenAI-compatible upstream', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let fx: LlmFixture;

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer({ latencyMs: 20 }).start();
    fx = await createLlmFixture(upstream, { url: redis.url, keyPrefix: 'gen' });
  });
  afterAll(async () => {
    await fx?.close();
    await upstream?.stop();
    await redis?.stop();
  });
  beforeEach(async () => {
    await fx.llm.clearLlmCache();
    await fx.llm.resetCacheStats();
    upstream.reset();
  });

  it('asks Redis three times on a miss (lookup, lock + re-check, store + unlock) and once on a hit', async () => {
    await fx.llm.generateTextWithCache(chat('load the scripts')); // the first script call per connection may EVAL
    const { sent, stop } = await recordRoundTrips(redis.url);
    try {
      await sleep(100);
      await fx.llm.generateTextWithCache(chat('counted miss'));
      await sleep(200);
      expect(sent).toEqual(['get', 'evalsha', 'evalsha']);
      sent.length = 0;
      await fx.llm.generateTextWithCache(chat('counted miss'));
      await sleep(200);
      expect(sent).toEqual(['get']);
    } finally {
      stop();
    }
  });

  it('runs a planned call with the value the caller prefetched from plan.key as its lookup', async () => {
    const req = chat('prefetch me');
    const first = await fx.llm.generateTextWithCache(req);
    expect(fx.llm.planCall(req).key).toBe(first.key);
    expect(fx.llm.planCall(req, undefined, { control: { noStore: true } }).key).toBeUndefined();
    expect(() => fx.llm.planCall({ model: 'gpt-4o-mini', messages: [] })).toThrow(/messages/);
    const value = await fx.cache.get<Record<string, unknown>>(first.key!);

    const { sent, stop } = await recordRoundTrips(redis.url);
    try {
      await sleep(100);
      const hit = await fx.llm.generateTextWithPlan(fx.llm.planCall(req), { prefetched: { value } });
      expect(hit).toMatchObject({ status: 'hit', cached: true, key: first.key });
      // Without a prefetched value the plan looks its key up itself.
      expect((await fx.llm.generateTextWithPlan(fx.llm.planCall(req))).status).toBe('hit');
      await sleep(200);
      expect(sent).toEqual(['get']);
    } finally {
      stop();
    }

    // The value is checked like a value the lookup read: served when valid (nothing of it is in Redis here),
    // refused when older than max-age, and a miss when absent.
    const fresh = chat('never stored');
    const served = await fx.llm.generateTextWithPlan(fx.llm.planCall(fresh), {
      prefetched: { value: { ...value, createdAtMs: Date.now() } },
    });
    expect(served).toMatchObject({ status: 'hit', cached: true });
    expect(served.response.choices).toEqual(first.response.choices);
    expect(upstream.callCount).toBe(1);
    const stale = await fx.llm.generateTextWithPlan(
      fx.llm.planCall(fresh, undefined, { control: { maxAgeMs: 10 } }),
      { prefetched: { value: { ...value, createdAtMs: Date.now() - 60_000 } } },
    );
    expect(stale).toMatchObject({ status: 'miss', cached: false });
    expect(upstream.callCount).toBe(2);
    const absent = await fx.llm.generateTextWithPlan(fx.llm.planCall(chat('absent too')), {
      prefetched: { value: undefined },
    });
    expect(absent).toMatchObject({ status: 'miss', cached: false });
    expect(upstream.callCount).toBe(3);
  });

  it('serves the second identical request from Redis without calling the provider', async () => {
    const first = await fx.llm.generateTextWithCache(chat('hello there'));
    expect(first).toMatchObject({ cached: false, status: 'miss', stored: true });
    const second = await fx.llm.generateTextWithCache(chat('hello there'));
    expect(second).toMatchObject({ cached: true, status: 'hit', stored: false });
    expect(second.response).toEqual(first.response);
    expect(second.ageMs).toBeGreaterThanOrEqual(0);
    expect(second.ageMs).toBeLessThan(5000);
    expect(upstream.callCount).toBe(1);
    expect(second.key).toMatch(/^llm:v2:default:\{[0-9a-f]{64}\}$/);
    expect(await fx.cache.exists(second.key!)).toBe(true);
  });

  it.each<[string, Partial<ChatCompletionRequest>]>([
    ['temperature', { temperature: 0.3 }],
    ['top_p', { top_p: 0.9 }],
    ['max_tokens', { max_tokens: 12 }],
    ['seed', { seed: 42 }],
    ['stop', { stop: ['zzz'] }],
    [
      'a system message',
      {
        messages: [
          { role: 'system', content: 'terse' },
          { role: 'user', content: 'same' },
        ],
      },
    ],
    ['tools', { tools: [{ type: 'function', function: { name: 'noop', parameters: { type: 'object' } } }] }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['an unknown field', { reasoning_effort: 'high' }],
  ])('misses when %s changes', async (_name, change) => {
    await fx.llm.generateTextWithCache(chat('same'));
    const changed = await fx.llm.generateTextWithCache({
      ...chat('same'),
      ...change,
    } as ChatCompletionRequest);
    expect(changed.status).toBe('miss');
    expect(upstream.callCount).toBe(2);
  });

  it('hits when only volatile or defaulted fields differ', async () => {
    await fx.llm.generateTextWithCache(chat('volatile'));
    const again = await fx.llm.generateTextWithCache(
      chat('volatile', { user: 'someone', metadata: { trace: 'x' }, temperature: 1, n: 1, stop: [] }),
    );
    expect(again.status).toBe('hit');
    expect(upstream.callCount).toBe(1);
  });

  it('never shares an entry between two tenants unless told to', async () => {
    const alice = await fx.llm.generateTextWithCache(chat('tenant question'), undefined, { tenant: 'alice' });
    const bob = await fx.llm.generateTextWithCache(chat('tenant question'), undefined, { tenant: 'bob' });
    expect([alice.status, bob.status]).toEqual(['miss', 'miss']);
    expect(alice.key).toMatch(/^llm:v2:alice:/);
    expect(bob.key).toMatch(/^llm:v2:bob:/);
    expect(upstream.callCount).toBe(2);
    expect(
      (await fx.llm.generateTextWithCache(chat('tenant question'), undefined, { tenant: 'alice' })).status,
    ).toBe('hit');

    const shared = await createLlmFixture(
      upstream,
      { url: redis.url, keyPrefix: 'gen-shared' },
      { shareAcrossTenants: true },
    );
    try {
      await shared.llm.generateTextWithCache(chat('shared question'), undefined, { tenant: 'alice' });
      const other = await shared.llm.generateTextWithCache(chat('shared question'), undefined, {
        tenant: 'bob',
      });
      expect(other.status).toBe('hit');
      expect(upstream.callCount).toBe(3);
    } finally {
      await shared.llm.clearLlmCache();
      await shared.close();
    }
  });

  it('stores nothing when the upstream fails, and maps its status', async () => {
    const bad = chat('please fail __status_500__');
    await expect(fx.llm.generateTextWithCache(bad)).rejects.toMatchObject({
      name: 'LlmProviderError',
      status: 502,
    });
    await expect(fx.llm.generateTextWithCache(bad)).rejects.toBeInstanceOf(LlmProviderError);
    expect(upstream.callCount).toBe(2);
    await expect(fx.llm.generateTextWithCache(chat('slow down __status_429__'))).rejects.toMatchObject({
      status: 429,
    });
    expect(await fx.llm.clearLlmCache()).toBe(0);
    expect((await fx.llm.getCacheStats()).errors).toBe(3);
  });

  it('answers a malformed 200 from the upstream with a 502, not a 500, and stores nothing', async () => {
    for (const useCache of [true, false]) {
      const err = await fx.llm
        .generateTextWithCache(chat('__malformed__'), undefined, { useCache })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LlmProviderError);
      expect(err).toMatchObject({ status: 502, message: 'upstream returned a malformed response' });
    }
    expect(await fx.llm.clearLlmCache()).toBe(0);
  });

  it('does not store an answer cut off by max_tokens unless storeLengthFinish is set', async () => {
    const truncated = chat('cut me __length__');
    expect((await fx.llm.generateTextWithCache(truncated)).stored).toBe(false);
    expect((await fx.llm.generateTextWithCache(truncated)).status).toBe('miss');
    const lenient = await createLlmFixture(
      upstream,
      { url: redis.url, keyPrefix: 'gen-len' },
      { storeLengthFinish: true },
    );
    try {
      expect((await lenient.llm.generateTextWithCache(truncated)).stored).toBe(true);
      expect((await lenient.llm.generateTextWithCache(truncated)).status).toBe('hit');
    } finally {
      await lenient.llm.clearLlmCache();
      await lenient.close();
    }
  });

  it('honours no-store, no-cache, max-age and only-if-cached', async () => {
    const req = chat('controls');
    await expect(
      fx.llm.generateTextWithCache(req, undefined, { control: { onlyIfCached: true } }),
    ).rejects.toBeInstanceOf(LlmCacheMissError);
    expect(upstream.callCount).toBe(0);

    const bypass = await fx.llm.generateTextWithCache(req, undefined, { control: { noStore: true } });
    expect(bypass).toMatchObject({ status: 'bypass', cached: false, stored: false });
    expect(await fx.llm.clearLlmCache()).toBe(0);

    await fx.llm.generateTextWithCache(req);
    expect(
      (await fx.llm.generateTextWithCache(req, undefined, { control: { onlyIfCached: true } })).status,
    ).toBe('hit');
    const refresh = await fx.llm.generateTextWithCache(req, undefined, { control: { noCache: true } });
    expect(refresh).toMatchObject({ status: 'refresh', cached: false, stored: true });
    expect(upstream.callCount).toBe(3);

    await sleep(30);
    expect((await fx.llm.generateTextWithCache(req, undefined, { control: { maxAgeMs: 10 } })).status).toBe(
      'miss',
    );
    expect(
      (await fx.llm.generateTextWithCache(req, undefined, { control: { maxAgeMs: 60_000 } })).status,
    ).toBe('hit');
    expect((await fx.llm.generateTextWithCache(req, undefined, { useCache: false })).status).toBe('bypass');
    expect(upstream.callCount).toBe(5);
  });

  it('applies default temperature and max tokens before keying and calling the provider', async () => {
    await fx.llm.generateTextWithCache(chat('defaults'), undefined, {
      defaultTemperature: 0.2,
      defaultMaxTokens: 64,
    });
    expect(upstream.calls[0].body).toMatchObject({ temperature: 0.2, max_tokens: 64 });
    expect(upstream.calls[0].body).not.toHaveProperty('stream_options');
    expect(
      (await fx.llm.generateTextWithCache(chat('defaults', { temperature: 0.2, max_tokens: 64 }))).status,
    ).toBe('hit');
  });

  it('writes every entry with the TTL asked for', async () => {
    const r = await fx.llm.generateTextWithCache(chat('ttl'), undefined, { cacheTtlMs: 150 });
    expect(await fx.cache.exists(r.key!)).toBe(true);
    await sleep(300);
    expect(await fx.cache.exists(r.key!)).toBe(false);
  });

  it('counts hits, misses, tokens, dollars and latency saved in shared stats', async () => {
    const first = await fx.llm.generateTextWithCache(chat('stats'));
    await fx.llm.generateTextWithCache(chat('stats'));
    await fx.llm.generateTextWithCache(chat('stats'));
    await fx.llm.generateTextWithCache(chat('stats'), undefined, { useCache: false });
    const stats = await fx.llm.getCacheStats();
    expect(stats).toMatchObject({ hits: 2, misses: 1, bypasses: 1, coalesced: 0, errors: 0 });
    expect(stats.cacheHitRatio).toBeCloseTo(2 / 3);
    expect(stats.tokensSaved).toBe(2 * first.response.usage!.total_tokens);
    expect(stats.costSavedUsd).toBeGreaterThan(0);
    expect(stats.latencySavedMs).toBeGreaterThan(0);
  });

  it("keeps each tenant's own counters beside the shared ones, so a tenant is shown only its numbers", async () => {
    await fx.llm.resetCacheStats('alice');
    await fx.llm.resetCacheStats('bob');
    const first = await fx.llm.generateTextWithCache(chat('per tenant'), undefined, { tenant: 'alice' });
    await fx.llm.generateTextWithCache(chat('per tenant'), undefined, { tenant: 'alice' });
    await fx.llm.generateTextWithCache(chat('per tenant'), undefined, { tenant: 'bob' });
    await expect(
      fx.llm.generateTextWithCache(chat('__status_500__'), undefined, { tenant: 'bob' }),
    ).rejects.toBeInstanceOf(LlmProviderError);

    const alice = await fx.llm.getCacheStats('alice');
    expect(alice).toMatchObject({ hits: 1, misses: 1, errors: 0, cacheHitRatio: 0.5 });
    expect(alice.tokensSaved).toBe(first.response.usage!.total_tokens);
    expect(alice.costSavedUsd).toBeGreaterThan(0);
    expect(await fx.llm.getCacheStats('bob')).toMatchObject({
      hits: 0,
      misses: 1,
      errors: 1,
      tokensSaved: 0,
    });
    expect(await fx.llm.getCacheStats('carol')).toMatchObject({ hits: 0, misses: 0, cacheHitRatio: 0 });
    expect(await fx.llm.getCacheStats()).toMatchObject({ hits: 1, misses: 2, errors: 1 });
  });

  it('clears only the LLM key space, optionally by pattern', async () => {
    await fx.cache.set('not-llm', { keep: true });
    await fx.llm.generateTextWithCache(chat('clear a'), undefined, { tenant: 'alice' });
    await fx.llm.generateTextWithCache(chat('clear b'), undefined, { tenant: 'bob' });
    expect(await fx.llm.clearLlmCache('v2:alice:*')).toBe(1);
    expect(await fx.llm.clearLlmCache()).toBe(1);
    expect(await fx.cache.get('not-llm')).toEqual({ keep: true });
    await fx.cache.delete('not-llm');
  });

  it('rejects a malformed request with a 400 naming the field, before any provider call', async () => {
    await expect(fx.llm.generateTextWithCache({ model: 'm', messages: [] })).rejects.toMatchObject({
      status: 400,
      param: 'messages',
    });
    await expect(fx.llm.generateTextWithCache(chat('x', { temperature: 3 }))).rejects.toBeInstanceOf(
      LlmRequestValidationError,
    );
    expect(upstream.callCount).toBe(0);
  });

  it('explains a key with field names and hashes only', async () => {
    const r = await fx.llm.generateTextWithCache(chat('explain me', { user: 'u1' }), undefined, {
      tenant: 'alice',
    });
    const e = fx.llm.explainCacheKey(chat('explain me', { user: 'u1' }), { tenant: 'alice' });
    expect(e.key).toBe(r.key);
    expect(e).toMatchObject({
      tenant: 'alice',
      schemaVersion: 2,
      provider: `openai:${upstream.baseURL}`,
      excluded: ['user'],
    });
    expect(JSON.stringify(e)).not.toContain('explain me');
  });
});

describe('deterministic-only policy', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let fx: LlmFixture;
  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer().start();
    fx = await createLlmFixture(upstream, { url: redis.url }, { determinism: 'deterministic-only' });
  });
  afterAll(async () => {
    await fx?.close();
    await upstream?.stop();
    await redis?.stop();
  });

  it('caches temperature 0 and seeded requests only', async () => {
    expect((await fx.llm.generateTextWithCache(chat('d', { temperature: 0.7 }))).status).toBe('bypass');
    expect((await fx.llm.generateTextWithCache(chat('d', { temperature: 0.7 }))).status).toBe('bypass');
    expect((await fx.llm.generateTextWithCache(chat('d'))).status).toBe('bypass');
    await fx.llm.generateTextWithCache(chat('d', { temperature: 0 }));
    expect((await fx.llm.generateTextWithCache(chat('d', { temperature: 0 }))).status).toBe('hit');
    await fx.llm.generateTextWithCache(chat('d', { temperature: 0.9, seed: 1 }));
    expect((await fx.llm.generateTextWithCache(chat('d', { temperature: 0.9, seed: 1 }))).status).toBe('hit');
    expect(upstream.callCount).toBe(5);
  });
});

describe('with Redis down', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let fx: LlmFixture;
  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer({ latencyMs: 20 }).start();
    fx = await createLlmFixture(upstream, { url: redis.url, commandTimeoutMs: 50 });
  });
  afterAll(async () => {
    await fx?.close();
    await upstream?.stop();
    await redis?.stop();
  });

  it('still answers from the provider within the bound when Redis is killed or hung', async () => {
    await fx.llm.generateTextWithCache(chat('before'));
    await redis.kill();
    for (const text of ['down 1', 'down 2']) {
      const start = Date.now();
      const r = await fx.llm.generateTextWithCache(chat(text));
      expect(r).toMatchObject({ cached: false, stored: false });
      // 20 ms upstream + a GET, a lock and a SET that each fail fast or time out at 50 ms.
      expect(Date.now() - start).toBeLessThan(400);
    }
    const streamed = await fx.llm.streamTextWithCache(chat('down stream'));
    let chunks = 0;
    for await (const _chunk of streamed.stream) chunks++;
    expect(chunks).toBeGreaterThan(2);
    expect(await streamed.storedPromise).toBe(false);
  });

  it('coalesces in-process even without Redis', async () => {
    upstream.reset();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => fx.llm.generateTextWithCache(chat('no redis herd'))),
    );
    expect(upstream.callCount).toBe(1);
    expect(results.filter((r) => r.status === 'coalesced')).toHaveLength(9);
  });

  it('keeps answering when Redis hangs (SIGSTOP) instead of dying', async () => {
    await redis.restart();
    await sleep(300);
    redis.pause();
    try {
      const start = Date.now();
      const r = await fx.llm.generateTextWithCache(chat('hung redis'));
      expect(r.cached).toBe(false);
      expect(Date.now() - start).toBeLessThan(400);
    } finally {
      redis.resume();
    }
  });
});

describe("request validation: once, in LlmCacheService, with the module's limits", () => {
  let upstream: FakeOpenAiServer;
  let fx: LlmFixture;

  beforeAll(async () => {
    upstream = await new FakeOpenAiServer().start();
    fx = await createLlmFixture(upstream, { inMemory: true }, { maxMessages: 2, maxRequestDepth: 3 });
  });
  afterAll(async () => {
    await fx?.close();
    await upstream?.stop();
  });

  const rejection = (request: unknown) =>
    fx.llm.generateTextWithCache(request as ChatCompletionRequest).then(
      () => undefined,
      (err: unknown) => err,
    );

  it('rejects more messages than maxMessages and deeper bodies than maxRequestDepth, naming the field', async () => {
    const three = { ...chat('a'), messages: [1, 2, 3].map((i) => ({ role: 'user', content: `m${i}` })) };
    expect(await rejection(three)).toMatchObject({ status: 400, param: 'messages' });
    expect(await rejection(three)).toBeInstanceOf(LlmRequestValidationError);
    const deep = { ...chat('a'), extra: { a: { b: { c: { d: 1 } } } } };
    expect(await rejection(deep)).toMatchObject({ status: 400, param: 'extra.a.b.c' });
    await expect(
      fx.llm.generateTextWithCache({ ...chat('a'), extra: { a: { b: 1 } } } as ChatCompletionRequest),
    ).resolves.toMatchObject({ status: 'miss' });
    expect(upstream.callCount).toBe(1);
  });
});
