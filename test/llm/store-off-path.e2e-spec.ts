/**
 * A miss is answered once its store is sent to Redis, not after Redis' reply (one round trip less on every miss),
 * without giving up what the store guarantees: this process's next lookup of the key is answered after the store,
 * a follower in another process sees the entry the moment the lock is gone, and a store that fails is logged and
 * counted and never rejects. Redis' reply is held back with `CLIENT PAUSE <ms> WRITE` from a side connection: reads
 * still run, every write (our store script included) waits until the pause ends, in the order it arrived.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisCacheMetrics } from '@llm-cache/redis-cache';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { chat, collect, createLlmFixture, sleep, within, type LlmFixture } from './llm-fixture.js';

const PREFIX = 'offpath';
/** The upstream answers in this long, so the pause can start while the leader waits for it (after its lock). */
const UPSTREAM_MS = 300;
const PAUSE_MS = 1500;

describe('a miss is answered before Redis replies to its store', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let admin: Redis;
  let a: LlmFixture;
  let b: LlmFixture;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer({ latencyMs: UPSTREAM_MS }).start();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    // Two "processes" on one Redis; a command timeout well above the pause, so the paused store is not a failure.
    a = await createLlmFixture(upstream, { url: redis.url, keyPrefix: PREFIX, commandTimeoutMs: 5000 });
    b = await createLlmFixture(
      upstream,
      { url: redis.url, keyPrefix: PREFIX, commandTimeoutMs: 5000 },
      { coalescing: { pollIntervalMs: 10, waitTimeoutMs: 10_000 } },
    );
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await a?.close();
    await b?.close();
    admin?.disconnect();
    await upstream?.stop();
    await redis?.stop();
  });
  beforeEach(async () => {
    await admin.call('CLIENT', 'UNPAUSE');
    await a.llm.clearLlmCache();
    upstream.reset();
    unhandled.length = 0;
  });
  afterEach(() => {
    expect(unhandled).toEqual([]);
  });

  const keysOf = (content: string) => {
    const key = a.llm.explainCacheKey(chat(content)).key;
    return { entry: `${PREFIX}:${key}`, lock: `${PREFIX}:${key.replace(/^llm:/, 'llm-lock:')}` };
  };

  /** Waits until the leader holds its lock (its lookup and lock script are done), then pauses Redis' writes. */
  async function pauseWritesOnceLocked(lockKey: string): Promise<void> {
    await within(
      (async () => {
        while ((await admin.exists(lockKey)) === 0) await sleep(5);
      })(),
      5000,
    );
    await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
  }

  it('returns stored: true while the write waits in Redis; the next identical request is a hit', async () => {
    const keys = keysOf('paused store');
    const pending = a.llm.generateTextWithCache(chat('paused store'));
    await pauseWritesOnceLocked(keys.lock);
    const first = await pending;
    let written: boolean | undefined;
    void first.storedPromise.then((v) => (written = v));
    expect(first).toMatchObject({ status: 'miss', cached: false, stored: true });
    // Answered, and the entry is not in Redis yet: the store script is still held by the pause.
    expect(await admin.exists(keys.entry)).toBe(0);
    expect(written).toBeUndefined();
    // This process's next lookup goes out on the same connection after the store: it finds the entry.
    const second = await a.llm.generateTextWithCache(chat('paused store'));
    expect(second).toMatchObject({ status: 'hit', cached: true });
    expect(second.response).toEqual(first.response);
    expect(await first.storedPromise).toBe(true);
    expect(await admin.exists(keys.lock)).toBe(0);
    expect(upstream.callCount).toBe(1);
  });

  it('waits for the reply with awaitStore: true (stored then says it was written)', async () => {
    const keys = keysOf('awaited store');
    const pending = a.llm.generateTextWithCache(chat('awaited store'), undefined, { awaitStore: true });
    await pauseWritesOnceLocked(keys.lock);
    const result = await pending;
    expect(result).toMatchObject({ status: 'miss', stored: true });
    expect(await admin.exists(keys.entry)).toBe(1);
  });

  it('ends a streamed miss once its store is sent; the next identical stream is a replayed hit', async () => {
    const keys = keysOf('paused stream');
    const pending = a.llm.streamTextWithCache(chat('paused stream'));
    await pauseWritesOnceLocked(keys.lock);
    const first = await pending;
    const chunks = await collect(first.stream);
    expect(await admin.exists(keys.entry)).toBe(0);
    const second = await a.llm.streamTextWithCache(chat('paused stream'));
    expect(second.status).toBe('hit');
    expect(await collect(second.stream)).toEqual(chunks);
    expect(await first.storedPromise).toBe(true);
    expect(upstream.callCount).toBe(1);
  });

  it('gives a polling follower in another process the entry when the lock goes, after the leader answered', async () => {
    const keys = keysOf('remote follower');
    const leader = a.llm.generateTextWithCache(chat('remote follower'));
    await within(
      (async () => {
        while ((await admin.exists(keys.lock)) === 0) await sleep(5);
      })(),
      5000,
    );
    // B finds A's lock and polls (reads, which the pause lets through) until the entry is there.
    const follower = b.llm.generateTextWithCache(chat('remote follower'));
    await sleep(50);
    await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
    const led = await leader;
    expect(led).toMatchObject({ status: 'miss', stored: true });
    expect(await admin.exists(keys.entry)).toBe(0);
    // Entry and unlock land in one script: B never sees the lock gone without the entry, so it never calls upstream.
    const followed = await within(follower, 10_000);
    expect(followed.status).toBe('coalesced');
    expect(followed.response).toEqual(led.response);
    expect(upstream.callCount).toBe(1);
  });
});

describe('a store that fails after the answer was given', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let admin: Redis;
  let fx: LlmFixture;

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer({ latencyMs: UPSTREAM_MS }).start();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    // The store times out (150 ms) long before the pause (1.5 s) lets it run.
    fx = await createLlmFixture(upstream, { url: redis.url, keyPrefix: PREFIX, commandTimeoutMs: 150 });
  });
  afterAll(async () => {
    await fx?.close();
    admin?.disconnect();
    await upstream?.stop();
    await redis?.stop();
  });

  it('is logged and counted as a failed set, resolves storedPromise to false and rejects nothing', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const recordOperation = jest.spyOn(fx.module.get(RedisCacheMetrics), 'recordOperation');
    try {
      const key = fx.llm.explainCacheKey(chat('failing store')).key;
      const lockKey = `${PREFIX}:${key.replace(/^llm:/, 'llm-lock:')}`;
      const pending = fx.llm.generateTextWithCache(chat('failing store'));
      await within(
        (async () => {
          while ((await admin.exists(lockKey)) === 0) await sleep(5);
        })(),
        5000,
      );
      await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
      const result = await pending;
      expect(result).toMatchObject({ status: 'miss', stored: true });
      expect(await within(result.storedPromise, 5000)).toBe(false);
      expect(recordOperation).toHaveBeenCalledWith('set', false, expect.any(Number));
      expect(warn.mock.calls.map(([message]) => String(message))).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^Redis set failed, serving without cache: .*timed out/),
        ]),
      );
      await admin.call('CLIENT', 'UNPAUSE');
      await sleep(50);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      warn.mockRestore();
      recordOperation.mockRestore();
      await admin.call('CLIENT', 'UNPAUSE');
    }
  });
});
