import { describe, expect, it } from '@jest/globals';
import type { RedisCacheService, SentWrite } from '@llm-cache/redis-cache';
import { LlmCacheEntries } from './llm-cache.entries.js';
import type { LlmCallPlan } from './llm-call.plan.js';
import type { LlmCacheEntry } from './stream.codec.js';
import { cacheEntryFixture } from './testing/cache-entry.fixture.js';

const entry = cacheEntryFixture();

const plan = (): LlmCallPlan =>
  ({ key: 'llm:v2:t:{abc}', lockKey: 'llm-lock:v2:t:{abc}', control: {}, ttlMs: 60_000 }) as LlmCallPlan;

/** A cache whose writes are sent at once and answered when the test says so; GETs return what Redis "has". */
function fakeCache(sent = true) {
  let answer!: (written: boolean) => void;
  const written = new Promise<boolean>((resolve) => (answer = resolve));
  const gets: string[] = [];
  const counted: Array<Record<string, number>> = [];
  let stored: LlmCacheEntry | undefined;
  const write: SentWrite = { sent, written };
  const cache = {
    get: async (key: string) => {
      gets.push(key);
      return stored;
    },
    count: (_hash: string, fields: Record<string, number>) => counted.push(fields),
    sendSet: async () => write,
    sendSetAndReleaseLock: async () => write,
  } as unknown as RedisCacheService;
  return {
    cache,
    gets,
    counted,
    reply: (ok: boolean) => {
      if (ok) stored = entry;
      answer(ok);
    },
  };
}

describe('LlmCacheEntries: a store in flight', () => {
  it.each(['sendStore', 'sendStoreAndUnlock'] as const)(
    'answers this process from the sent entry until Redis replies to %s, then reads Redis again',
    async (method) => {
      const fake = fakeCache();
      const entries = new LlmCacheEntries(fake.cache);
      await entries[method](plan(), entry, 'token');
      // Redis has not applied it yet (a GET could overtake the write): the lookup must not ask Redis.
      expect((await entries.lookup(plan()))?.entry).toBe(entry);
      expect(fake.gets).toEqual([]);
      expect(fake.counted).toEqual([{ hits: 1 }]);
      fake.reply(true);
      await new Promise((r) => setImmediate(r));
      expect((await entries.lookup(plan()))?.entry).toEqual(entry);
      expect(fake.gets).toEqual(['llm:v2:t:{abc}']);
    },
  );

  it('forgets an entry whose write failed (the next lookup asks Redis, which has nothing)', async () => {
    const fake = fakeCache();
    const entries = new LlmCacheEntries(fake.cache);
    await entries.sendStore(plan(), entry);
    fake.reply(false);
    await new Promise((r) => setImmediate(r));
    expect(await entries.lookup(plan())).toBeUndefined();
    expect(fake.gets).toHaveLength(1);
  });

  it('keeps nothing for a write that was never sent, and a quiet lookup does not count', async () => {
    const fake = fakeCache(false);
    const entries = new LlmCacheEntries(fake.cache);
    await entries.sendStore(plan(), entry);
    expect(await entries.lookup(plan(), true)).toBeUndefined();
    expect(fake.gets).toHaveLength(1);
    expect(fake.counted).toEqual([]);
  });

  it('still honours max-age for the entry in flight', async () => {
    const fake = fakeCache();
    const entries = new LlmCacheEntries(fake.cache);
    await entries.sendStore(plan(), { ...entry, createdAtMs: Date.now() - 5_000 });
    const strict = { ...plan(), control: { maxAgeMs: 1_000 } } as LlmCallPlan;
    expect(await entries.lookup(strict)).toBeUndefined();
  });
});

describe('LlmCacheEntries: a value the caller prefetched', () => {
  it('is the first lookup (no GET, not counted again), then forgotten; a store in flight wins over it', async () => {
    const fake = fakeCache();
    const entries = new LlmCacheEntries(fake.cache);
    const p = { ...plan(), prefetched: { value: entry } } as LlmCallPlan;
    expect((await entries.lookup(p))?.entry).toBe(entry);
    expect(p.prefetched).toBeUndefined();
    expect(await entries.lookup(p)).toBeUndefined(); // the second lookup asks Redis, which has nothing
    expect(fake.gets).toEqual(['llm:v2:t:{abc}']);
    expect(fake.counted).toEqual([]);
    // Malformed → not an entry, like a value the lookup read.
    expect(
      await entries.lookup({ ...plan(), prefetched: { value: { format: 2 } } } as LlmCallPlan),
    ).toBeUndefined();

    // Read before this process's store of the key was answered: the store in flight is newer.
    await entries.sendStore(plan(), entry);
    const stale = { ...plan(), prefetched: { value: undefined } } as LlmCallPlan;
    expect((await entries.lookup(stale))?.entry).toBe(entry);
    expect(fake.counted).toEqual([]);
    fake.reply(true);
  });
});
