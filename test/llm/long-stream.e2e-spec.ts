/**
 * A healthy stream longer than the coalescing lock's lifetime: the leader keeps its lock (owner-checked PEXPIRE
 * while it works), so it is never cut and no second leader starts in another process; only silence between chunks
 * longer than `lockTtlMs` ends a stream (see streaming.e2e-spec.ts for the stalled upstream).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { ChatCompletionChunk } from '@llm-cache/llm';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { chat, collect, createLlmFixture, sleep, within, type LlmFixture } from './llm-fixture.js';

const LOCK_TTL_MS = 300;
const CHUNK_DELAY_MS = 70;

const text = (chunks: ChatCompletionChunk[]) =>
  chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');

describe('a stream that outlives the lock TTL', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let a: LlmFixture;
  let b: LlmFixture;
  let raw: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer({ chunkDelayMs: CHUNK_DELAY_MS }).start();
    // Two "processes": own Redis clients and own in-flight maps, one Redis.
    const llm = { coalescing: { lockTtlMs: LOCK_TTL_MS, waitTimeoutMs: 20_000, pollIntervalMs: 20 } };
    a = await createLlmFixture(upstream, { url: redis.url, keyPrefix: 'long' }, llm);
    b = await createLlmFixture(upstream, { url: redis.url, keyPrefix: 'long' }, llm);
    raw = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    raw?.disconnect();
    await a?.close();
    await b?.close();
    await upstream?.stop();
    await redis?.stop();
  });

  it('completes a stream three times longer than the lock TTL, stores it, and no second leader starts meanwhile', async () => {
    const request = chat('tell me a long story, one word at a time');
    const start = Date.now();
    const leader = await a.llm.streamTextWithCache(request);
    expect(leader.status).toBe('miss');
    const relayed = collect(leader.stream);

    // A follower in this process, and one in the other process that arrives once the first TTL is long gone.
    const local = a.llm.streamTextWithCache(request);
    await sleep(LOCK_TTL_MS * 2);
    const lockKeys = await raw.keys('long:llm-lock:*');
    expect(lockKeys).toHaveLength(1);
    expect(await raw.pttl(lockKeys[0])).toBeGreaterThan(0);
    const remote = b.llm.streamTextWithCache(request);

    const chunks = await within(relayed, 15_000);
    const tookMs = Date.now() - start;
    expect(tookMs).toBeGreaterThan(LOCK_TTL_MS * 3);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(text(chunks)).toMatch(/^You said: tell me a long story/);
    expect(await leader.storedPromise).toBe(true);

    const [l, r] = await within(Promise.all([local, remote]), 10_000);
    expect(l.status).toBe('coalesced');
    expect(['coalesced', 'hit']).toContain(r.status);
    expect(text(await collect(l.stream))).toBe(text(chunks));
    expect(text(await collect(r.stream))).toBe(text(chunks));
    // Exactly one upstream call: the other process waited for the (extended) lock instead of leading.
    expect(upstream.callCount).toBe(1);
    expect(await raw.keys('long:llm-lock:*')).toEqual([]);
    // Stored: a later request is a hit.
    const again = await b.llm.streamTextWithCache(request);
    expect(again.status).toBe('hit');
    await collect(again.stream);
    expect(upstream.callCount).toBe(1);
  });

  it('keeps the lock of a plain (non-streamed) call that takes three lock TTLs: the other process waits for it', async () => {
    upstream.reset();
    const request = chat(`a slow one __slow_${LOCK_TTL_MS * 3}__`);
    const leader = a.llm.generateTextWithCache(request);
    await sleep(LOCK_TTL_MS * 2);
    const remote = b.llm.generateTextWithCache(request);
    const [l, r] = await within(Promise.all([leader, remote]), 10_000);
    expect(l.status).toBe('miss');
    expect(['coalesced', 'hit']).toContain(r.status);
    expect(r.response.choices[0].message.content).toBe(l.response.choices[0].message.content);
    expect(upstream.callCount).toBe(1);
  });
});
