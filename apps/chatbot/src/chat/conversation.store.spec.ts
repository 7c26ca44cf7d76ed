import { describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { RedisCacheService } from '@llm-cache/redis-cache';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { ConversationStore, RECENT_CONVERSATIONS, RECENT_HISTORY_CHARS } from './conversation.store.js';

/** A cache whose writes settle when the spec says so; reads see what was written (like Redis would). */
function fakeCache() {
  const values = new Map<string, unknown>();
  const writes: Array<{ key: string; options: unknown; settle: (ok: boolean | Error) => void }> = [];
  const cache = {
    options: { commandTimeoutMs: 50 },
    set: jest.fn((key: string, value: unknown, options: unknown) => {
      values.set(key, JSON.parse(JSON.stringify(value)));
      return new Promise<boolean>((resolve, reject) =>
        writes.push({ key, options, settle: (ok) => (ok instanceof Error ? reject(ok) : resolve(ok)) }),
      );
    }),
    get: jest.fn(async (key: string) => values.get(key)),
    getMany: jest.fn(async (keys: string[]) => keys.map((k) => values.get(k))),
    exists: jest.fn(async (key: string) => values.has(key)),
  };
  return { cache, values, writes };
}

const config = { conversation: { ttlMs: 60_000, maxMessages: 10 } } as ChatbotConfig;
const turn = (n: number) => [
  { role: 'user' as const, content: `q${n}` },
  { role: 'assistant' as const, content: `a${n}` },
];
const tick = () => new Promise((r) => setImmediate(r));

describe('ConversationStore', () => {
  it('issues the write with dispatchNow and resolves before Redis answers it', async () => {
    const { cache, writes } = fakeCache();
    const store = new ConversationStore(cache as unknown as RedisCacheService, config);
    await store.append('t', 'c1', [], turn(1));
    expect(writes).toHaveLength(1);
    expect(writes[0].options).toEqual({ ttlMs: 60_000, dispatchNow: true });
    expect(store.pendingWriteCount).toBe(1);
    writes[0].settle(true);
    await tick();
    expect(store.pendingWriteCount).toBe(0);
  });

  it("makes the next turn's read wait for the previous turn's pending write", async () => {
    const { cache, writes } = fakeCache();
    const store = new ConversationStore(cache as unknown as RedisCacheService, config);
    await store.append('t', 'c1', [], turn(1));
    let loaded = false;
    const next = store.load('t', 'c1').then((c) => ((loaded = true), c));
    // Another conversation is not held up by it.
    await expect(store.load('t', 'other')).resolves.toBeNull();
    await tick();
    expect(loaded).toBe(false);
    expect(cache.get).not.toHaveBeenCalledWith('conv:t:c1');
    writes[0].settle(true);
    await expect(next).resolves.toMatchObject({ messages: turn(1), rev: expect.any(String) });
  });

  it('logs a failed write, never rejects, and forgets the revision Redis does not hold', async () => {
    const { cache, writes } = fakeCache();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const store = new ConversationStore(cache as unknown as RedisCacheService, config);
    await store.append('t', 'c1', [], turn(1));
    expect(await store.recentHistory('t', 'c2')).toBeUndefined();
    writes[0].settle(new Error('boom: connection reset'));
    expect(await store.recentHistory('t', 'c1')).toBeUndefined();
    await store.append('t', 'c1', [], turn(2));
    writes[1].settle(false);
    await tick();
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringMatching(/conv:t:c1: history write not confirmed.*boom: connection reset/),
      expect.stringMatching(/conv:t:c1: history write not confirmed.*Redis unavailable/),
    ]);
    warn.mockRestore();
  });

  it('remembers the revision it wrote, and what it read, for the newest conversations only', async () => {
    const { cache, writes } = fakeCache();
    const store = new ConversationStore(cache as unknown as RedisCacheService, config);
    await store.append('t', 'c1', turn(1), turn(2));
    writes[0].settle(true);
    const recent = await store.recentHistory('t', 'c1');
    expect(recent?.messages).toEqual([...turn(1), ...turn(2)]);
    expect((await store.load('t', 'c1'))?.rev).toBe(recent?.rev);
    for (let i = 0; i < RECENT_CONVERSATIONS; i++) {
      await store.append('t', `x${i}`, [], turn(i));
      writes.at(-1)!.settle(true);
    }
    expect(await store.recentHistory('t', 'c1')).toBeUndefined();
    expect(await store.recentHistory('t', `x${RECENT_CONVERSATIONS - 1}`)).toBeDefined();
  });

  it('loadWith reads the conversation and another key in one getMany, and tells a missing record apart', async () => {
    const { cache, values, writes } = fakeCache();
    const store = new ConversationStore(cache as unknown as RedisCacheService, config);
    await store.append('t', 'c1', [], turn(1));
    writes[0].settle(true);
    values.set('llm:k', { format: 1 });
    const { conversation, other } = await store.loadWith('t', 'c1', 'llm:k');
    expect(cache.getMany).toHaveBeenCalledTimes(1);
    expect(cache.getMany).toHaveBeenCalledWith(['conv:t:c1', 'llm:k']);
    expect(conversation).toEqual({ messages: turn(1), rev: (await store.recentHistory('t', 'c1'))?.rev });
    expect(other).toEqual({ format: 1 });
    values.delete('conv:t:c1');
    await expect(store.loadWith('t', 'c1', 'llm:k')).resolves.toMatchObject({ conversation: null });
    expect(await store.recentHistory('t', 'c1')).toBeUndefined();
  });

  it('bounds what it remembers in characters too, and never remembers one huge history', async () => {
    const { cache, writes } = fakeCache();
    const store = new ConversationStore(cache as unknown as RedisCacheService, config);
    const long = (n: number) => [{ role: 'user' as const, content: 'x'.repeat(n) }];
    await store.append('t', 'huge', [], long(RECENT_HISTORY_CHARS / 100 + 1));
    expect(await (writes[0].settle(true), store.recentHistory('t', 'huge'))).toBeUndefined();
    const each = RECENT_HISTORY_CHARS / 100; // 101 of these are over the budget: the oldest goes
    for (let i = 0; i <= 100; i++) await store.append('t', `c${i}`, [], long(each));
    for (const w of writes) w.settle(true);
    expect(await store.recentHistory('t', 'c0')).toBeUndefined();
    expect(await store.recentHistory('t', 'c1')).toBeDefined();
    expect(await store.recentHistory('t', 'c100')).toBeDefined();
  });

  it('waits for pending writes on shutdown, bounded in time', async () => {
    const { cache, writes } = fakeCache();
    const store = new ConversationStore(cache as unknown as RedisCacheService, config);
    await store.append('t', 'c1', [], turn(1));
    let done = false;
    const shutdown = store.onApplicationShutdown().then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    writes[0].settle(true);
    await shutdown;

    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    await store.append('t', 'c2', [], turn(1)); // never answered
    const start = performance.now();
    await store.onApplicationShutdown();
    expect(performance.now() - start).toBeLessThan(1000);
    expect(String(warn.mock.calls[0][0])).toMatch(/1 conversation writes unanswered after 100 ms/);
    warn.mockRestore();
  });
});
