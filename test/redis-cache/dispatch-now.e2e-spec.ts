/**
 * `set(..., { dispatchNow: true })` puts the SET on the connection before `set()` returns, even while an
 * auto-pipelined batch is waiting for its replies (a plain `set` is queued behind that batch). Real Redis behind a
 * RESP-aware proxy that holds replies back, so "sent" and "answered" can be observed apart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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

  it('is on the wire when set() returns, while an earlier batch is still unanswered', async () => {
    const { slow } = await busyConnection();
    const written = cache.set('now', { v: 1 }, { dispatchNow: true });
    // No await, no timer: the proxy has it as soon as the loopback delivers it.
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
