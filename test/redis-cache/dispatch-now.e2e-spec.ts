/**
 * `set(..., { dispatchNow: true })` puts the SET on the connection before the caller resumes from its next await,
 * even while an auto-pipelined batch is waiting for its replies (a plain `set` is queued behind that batch), and
 * the SETs issued before that point share one socket write. Real Redis behind a
 * RESP-aware proxy that holds replies back, so "sent" and "answered" can be observed apart.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Redis, type Command } from 'ioredis';
import type { TestingModule } from '@nestjs/testing';
import { RedisCacheService } from '@llm-cache/redis-cache';
import { RedisServer } from '../harness/redis-server.js';
import { RespProxy } from '../harness/resp-proxy.js';
import { cacheModule, rawClient, sleep } from './support.js';

describe('RedisCacheService.set with dispatchNow', () => {
  let redis: RedisServer;
  let proxy: RespProxy;
  let mod: TestingModule;
  let cache: RedisCacheService;

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = await RespProxy.start(redis.port);
    mod = await cacheModule({ url: proxy.url, keyPrefix: 'dn', commandTimeoutMs: 2000 });
    cache = mod.get(RedisCacheService);
  });
  afterAll(async () => {
    await mod?.close();
    await proxy?.stop();
    await redis?.stop();
  });

  const sent = (key: string) => proxy.commands.some((c) => c.args[0] === 'SET' && c.args[1] === `dn:${key}`);

  /** A GET whose reply the proxy holds: the client's auto-pipeline batch stays "running" until `release()`. */
  async function busyConnection(): Promise<{ slow: Promise<unknown> }> {
    proxy.holdRepliesFrom((c) => c.args[0] === 'GET' && c.args[1] === 'dn:slow');
    const slow = cache.get('slow');
    await sleep(30); // the batch holding the GET is written (setImmediate) and now waits for its reply
    expect(proxy.commands.some((c) => c.args[1] === 'dn:slow')).toBe(true);
    return { slow }; // wrapped: an async function returning a promise would wait for it
  }

  it('is on the wire at once, while an earlier batch is still unanswered', async () => {
    const { slow } = await busyConnection();
    const written = cache.set('now', { v: 1 }, { dispatchNow: true });
    await sleep(30);
    expect(sent('now')).toBe(true);
    // A second client already reads it from Redis, although the writer has no answer yet.
    const other = rawClient(redis.port);
    try {
      expect(await other.get('dn:now')).toBe('{"v":1}');
    } finally {
      other.disconnect();
    }
    proxy.release();
    await expect(written).resolves.toBe(true);
    await slow;
  });

  it('hands the SET to the connection before the caller resumes from its first await', async () => {
    const sendCommand = jest.spyOn(Redis.prototype, 'sendCommand');
    try {
      const written = cache.set('sync', { v: 3 }, { dispatchNow: true });
      // One await, no timer: a set() that awaited anything (encoding, a batch) before its write would fail this.
      await Promise.resolve();
      const sets = sendCommand.mock.calls.map(([c]) => c as Command).filter((c) => c.name === 'set');
      expect(sets.map((c) => String(c.args[0]))).toEqual(['dn:sync']);
      await expect(written).resolves.toBe(true);
    } finally {
      sendCommand.mockRestore();
    }
  });

  it("shares one socket write among the SETs issued before that point (one tick's turns)", async () => {
    const from = proxy.commands.length;
    const written = ['b1', 'b2', 'b3'].map((k) => cache.set(k, { k }, { dispatchNow: true }));
    await expect(Promise.all(written)).resolves.toEqual([true, true, true]);
    const sets = proxy.commands.slice(from).filter((c) => c.args[0] === 'SET');
    expect(sets.map((c) => c.args[1])).toEqual(['dn:b1', 'dn:b2', 'dn:b3']);
    expect(new Set(sets.map((c) => c.chunk)).size).toBe(1);
    const other = rawClient(redis.port);
    try {
      expect(await other.mget('dn:b1', 'dn:b2', 'dn:b3')).toEqual(['{"k":"b1"}', '{"k":"b2"}', '{"k":"b3"}']);
    } finally {
      other.disconnect();
    }
  });

  it.each([false, true])(
    'resolves false for onlyIfAbsent on an existing key (dispatchNow: %s)',
    async (now) => {
      const key = `nx-${now}`;
      expect(await cache.set(key, 1, { dispatchNow: now })).toBe(true);
      expect(await cache.set(key, 2, { onlyIfAbsent: true, dispatchNow: now })).toBe(false);
      expect(await cache.get(key)).toBe(1);
    },
  );

  it('without it, the same SET waits behind the unanswered batch (what dispatchNow avoids)', async () => {
    const { slow } = await busyConnection();
    const written = cache.set('later', { v: 2 });
    await sleep(100);
    expect(sent('later')).toBe(false);
    proxy.release();
    await expect(written).resolves.toBe(true);
    await slow;
    expect(sent('later')).toBe(true);
  });
});
