/**
 * RedisCacheService against one real redis-server: TTLs, JSON round trips, size limits, pattern clear confined to
 * the prefix, INFO, locks, stats shared between two module instances (two app replicas), forRootAsync, and the
 * client quitting on shutdown.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import {
  REDIS_CACHE_CLIENT,
  RedisCacheModule,
  RedisCacheService,
  type RedisClient,
} from '@llm-cache/redis-cache';
import { freePort, RedisServer } from '../harness/redis-server.js';
import { cacheModule, clientList, rawClient, sleep, waitFor } from './support.js';

describe('RedisCacheService on a standalone Redis', () => {
  let redis: RedisServer;
  let raw: Redis;
  let mod: TestingModule;
  let cache: RedisCacheService;
  const extraModules: TestingModule[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = rawClient(redis.port);
    mod = await cacheModule({ url: redis.url, keyPrefix: 'app', commandTimeoutMs: 200 });
    cache = mod.get(RedisCacheService);
  });

  afterEach(async () => {
    await Promise.all(extraModules.splice(0).map((m) => m.close()));
    await raw.flushdb();
  });

  afterAll(async () => {
    await Promise.all(extraModules.map((m) => m.close()));
    await mod?.close();
    raw?.disconnect();
    await redis?.stop();
  });

  describe('TTL', () => {
    it('forgets an entry once its ttlMs has passed', async () => {
      expect(await cache.set('short', { v: 1 }, { ttlMs: 150 })).toBe(true);
      expect(await cache.get('short')).toEqual({ v: 1 });
      const pttl = await raw.pttl('app:short');
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(150);
      await waitFor('the entry to expire', async () => (await raw.exists('app:short')) === 0, 2000, 25);
      expect(await cache.get('short')).toBeUndefined();
    });

    it('puts a TTL on every key it writes: values, defaults, raw, locks and stats', async () => {
      const m = await cacheModule({ url: redis.url, keyPrefix: 'ttl', defaultTtlMs: 60_000 });
      extraModules.push(m);
      const c = m.get(RedisCacheService);
      await c.set('explicit', 1, { ttlMs: 5000 });
      await c.set('default', 2);
      await c.setRaw('raw', 'x');
      await c.acquireLock('lock', 3000);
      await c.get('default');
      await c.flushCounters();
      const keys = (await raw.keys('ttl:*')).sort();
      expect(keys).toEqual(['ttl:default', 'ttl:explicit', 'ttl:lock', 'ttl:raw', 'ttl:stats']);
      for (const key of keys) expect([key, (await raw.pttl(key)) > 0]).toEqual([key, true]);
      expect(await raw.pttl('ttl:default')).toBeGreaterThan(59_000);
      expect(await raw.pttl('ttl:explicit')).toBeLessThanOrEqual(5000);
    });

    it('rejects a ttlMs that is not a positive number, naming it', async () => {
      await expect(cache.set('k', 1, { ttlMs: 0 })).rejects.toThrow(/ttlMs must be a positive number, got 0/);
      await expect(cache.set('k', 1, { ttlMs: Number.NaN })).rejects.toThrow(/ttlMs/);
      expect(await raw.exists('app:k')).toBe(0);
    });
  });

  describe('JSON round trip', () => {
    it('returns nested objects, arrays, unicode and numbers as they were written', async () => {
      const value = {
        answer: 'Grüße, 世界 — 🚀',
        nested: { list: [1, -2.5, 1e-9, null, true, { deep: ['x'] }], empty: {}, none: [] },
        n: 0,
      };
      await cache.set('doc', value);
      expect(await cache.get('doc')).toEqual(value);
      // Small entries stay plain JSON, readable by anyone with redis-cli.
      expect(JSON.parse((await raw.get('app:doc'))!)).toEqual(value);
    });

    it('stores a large value gzip-compressed and reads it back intact', async () => {
      const value = { rows: Array.from({ length: 3000 }, (_, i) => ({ i, text: `row ${i} ünïcode` })) };
      await cache.set('big', value);
      const stored = (await raw.getBuffer('app:big'))!;
      expect([stored[0], stored[1]]).toEqual([0x1f, 0x8b]);
      expect(stored.length).toBeLessThan(JSON.stringify(value).length / 4);
      expect(await cache.get('big')).toEqual(value);
    });

    it('drops an entry over maxEntryBytes instead of storing it', async () => {
      const m = await cacheModule({
        url: redis.url,
        keyPrefix: 'small',
        maxEntryBytes: 100,
        compressThresholdBytes: 1_000_000,
      });
      extraModules.push(m);
      const c = m.get(RedisCacheService);
      expect(await c.set('fits', 'x'.repeat(50))).toBe(true);
      expect(await c.set('too-big', 'x'.repeat(200))).toBe(false);
      expect(await raw.exists('small:fits')).toBe(1);
      expect(await raw.exists('small:too-big')).toBe(0);
    });

    it('treats an entry it cannot decode as a miss, not an error', async () => {
      await raw.set('app:garbage', '{not json', 'PX', 10_000);
      expect(await cache.get('garbage')).toBeUndefined();
    });

    it('reads several keys in one call, misses as undefined', async () => {
      await cache.set('m1', { a: 1 });
      await cache.set('m3', [3]);
      expect(await cache.getMany(['m1', 'm2', 'm3'])).toEqual([{ a: 1 }, undefined, [3]]);
      expect(await cache.getMany([])).toEqual([]);
    });

    it('deletes a key and reports whether it existed', async () => {
      await cache.set('gone', 1);
      expect(await cache.delete('gone')).toBe(true);
      expect(await cache.delete('gone')).toBe(false);
      expect(await cache.exists('gone')).toBe(false);
    });
  });

  describe('clear(pattern)', () => {
    it('deletes exactly the keys matching the pattern under the prefix, nothing else', async () => {
      for (let i = 0; i < 1200; i++) await raw.set(`app:llm:${i}`, 'x', 'PX', 60_000);
      await raw.set('app:other:1', 'x');
      await raw.set('app:llmish', 'x');
      await raw.set('llm:outside-prefix', 'x');
      await raw.set('other:llm:1', 'x');
      expect(await cache.clear('llm:*')).toBe(1200);
      // `app:stats` is the service's own counter hash, written by its background flush whenever the timer fires.
      const left = (await raw.keys('*')).filter((k) => k !== 'app:stats');
      expect(left.sort()).toEqual(['app:llmish', 'app:other:1', 'llm:outside-prefix', 'other:llm:1']);
    });

    it('never leaves the prefix, even for "*"', async () => {
      await raw.set('app:a', '1');
      await raw.set('application:b', '1');
      await raw.set('unrelated', '1');
      expect(await cache.clear('*')).toBe(1);
      expect((await raw.keys('*')).sort()).toEqual(['application:b', 'unrelated']);
    });

    it('matches glob metacharacters in the prefix literally', async () => {
      const m = await cacheModule({ url: redis.url, keyPrefix: 'p*[x]?' });
      extraModules.push(m);
      const c = m.get(RedisCacheService);
      await c.set('llm:1', 1);
      await raw.set('pZZ[x]Q:llm:1', '1'); // would match if the prefix were a glob
      await raw.set('px:llm:2', '1');
      expect(await c.clear('llm:*')).toBe(1);
      expect((await raw.keys('*')).sort()).toEqual(['pZZ[x]Q:llm:1', 'px:llm:2']);
    });

    it('refuses an empty or oversized pattern, naming the problem', async () => {
      await expect(cache.clear('')).rejects.toThrow(/pattern must be a non-empty string/);
      await expect(cache.clear('x'.repeat(513))).rejects.toThrow(/at most 512 characters/);
    });
  });

  describe('locks', () => {
    it('gives a lock to one owner at a time and releases it only for its token', async () => {
      const first = await cache.acquireLock('lock:k', 5000);
      expect(first.status).toBe('acquired');
      expect((await cache.acquireLock('lock:k', 5000)).status).toBe('held');
      expect(await cache.releaseLock('lock:k', 'someone-else')).toBe(false);
      expect(await raw.exists('app:lock:k')).toBe(1);
      expect(await cache.releaseLock('lock:k', (first as { token: string }).token)).toBe(true);
      expect(await raw.exists('app:lock:k')).toBe(0);
    });
  });

  describe('writes sent without waiting for the reply', () => {
    it('sends the store + unlock script before resolving; a later get of this client is answered after it', async () => {
      const lock = (await cache.acquireLock('lock:s', 5000)) as { token: string };
      const write = await cache.sendSetAndReleaseLock(
        's',
        { v: 1 },
        { ttlMs: 5000, lockKey: 'lock:s', token: lock.token },
      );
      expect(write.sent).toBe(true);
      // Issued before the reply was awaited: the same connection answers it after the script.
      const read = cache.get<{ v: number }>('s');
      expect(await write.written).toBe(true);
      expect(await read).toEqual({ v: 1 });
      expect(await raw.exists('app:lock:s')).toBe(0);
    });

    it('does not send an entry over maxEntryBytes, and still releases the lock', async () => {
      const small = await cacheModule({ url: redis.url, keyPrefix: 'app', maxEntryBytes: 64 });
      extraModules.push(small);
      const c = small.get(RedisCacheService);
      const lock = (await c.acquireLock('lock:big', 5000)) as { token: string };
      const write = await c.sendSetAndReleaseLock(
        'big',
        { text: 'x'.repeat(500) },
        { ttlMs: 5000, lockKey: 'lock:big', token: lock.token },
      );
      expect(write.sent).toBe(false);
      expect(await write.written).toBe(false);
      expect(await raw.exists('app:big')).toBe(0);
      await new Promise((r) => setTimeout(r, 50));
      expect(await raw.exists('app:lock:big')).toBe(0);
    });

    it('reports not sent, and written false, when Redis is not connected', async () => {
      const down = await cacheModule({ url: `redis://127.0.0.1:${await freePort()}`, keyPrefix: 'app' });
      extraModules.push(down);
      const write = await down.get(RedisCacheService).sendSet('skipped', { v: 1 }, { ttlMs: 5000 });
      expect(write.sent).toBe(false);
      expect(await write.written).toBe(false);
    });
  });

  describe('getCacheInfo()', () => {
    it('parses INFO: version, clients, memory, keyspace hits/misses and key count', async () => {
      await cache.set('i1', 1);
      await cache.set('i2', 2);
      await raw.get('app:i1');
      await raw.get('app:nope');
      const info = await cache.getCacheInfo();
      expect(info).toMatchObject({ mode: 'standalone', connected: true, keys: 2 });
      expect(info.redisVersion).toMatch(/^\d+\.\d+\.\d+$/);
      expect(info.connectedClients).toBeGreaterThanOrEqual(2);
      expect(info.usedMemoryHuman).toMatch(/^[\d.]+[BKMG]$/);
      expect(info.usedMemoryBytes).toBeGreaterThan(0);
      expect(info.keyspaceHits).toBeGreaterThanOrEqual(1);
      expect(info.keyspaceMisses).toBeGreaterThanOrEqual(1);
      expect(info.nodes).toHaveLength(1);
      expect(info.nodes[0].address).toBe(`127.0.0.1:${redis.port}`);
      expect(info.nodes[0].info.tcp_port).toBe(String(redis.port));
    });
  });

  describe('stats shared by replicas', () => {
    it('sums hits and misses of two module instances with their own clients on the same Redis', async () => {
      const a = await cacheModule({ url: redis.url, keyPrefix: 'shared', connectionName: 'replica-a' });
      const b = await cacheModule({ url: redis.url, keyPrefix: 'shared', connectionName: 'replica-b' });
      extraModules.push(a, b);
      const ca = a.get(RedisCacheService);
      const cb = b.get(RedisCacheService);
      expect(a.get<RedisClient>(REDIS_CACHE_CLIENT)).not.toBe(b.get<RedisClient>(REDIS_CACHE_CLIENT));
      const clients = await clientList(raw);
      expect(clients).toContain('name=replica-a');
      expect(clients).toContain('name=replica-b');

      await ca.set('k', 1);
      await ca.get('k'); // hit on A
      await ca.get('k'); // hit on A
      await ca.get('nope'); // miss on A
      await cb.get('k'); // hit on B
      await cb.getMany(['nope', 'k']); // miss + hit on B
      await ca.flushCounters();

      const fromB = await cb.getStats();
      expect(fromB).toEqual({ hits: 4, misses: 2, hitRatio: 4 / 6 });
      expect(await ca.getStats()).toEqual(fromB);
      expect(await raw.hgetall('shared:stats')).toEqual({ hits: '4', misses: '2' });

      await ca.resetStats();
      expect(await cb.getStats()).toEqual({ hits: 0, misses: 0, hitRatio: 0 });
    });

    it('flushes counters in the background every statsFlushIntervalMs', async () => {
      const m = await cacheModule({ url: redis.url, keyPrefix: 'bg', statsFlushIntervalMs: 100 });
      extraModules.push(m);
      await m.get(RedisCacheService).get('miss');
      await waitFor('the background flush', async () => (await raw.hget('bg:stats', 'misses')) === '1', 3000);
    });
  });

  describe('module wiring', () => {
    it('builds from forRootAsync with useFactory + inject, on the configured prefix', async () => {
      @Injectable()
      class Settings {
        readonly url = redis.url;
        readonly prefix = 'async';
      }
      @Module({ providers: [Settings], exports: [Settings] })
      class SettingsModule {}

      const m = await Test.createTestingModule({
        imports: [
          RedisCacheModule.forRootAsync({
            imports: [SettingsModule],
            inject: [Settings],
            useFactory: (s: Settings) => ({ url: s.url, keyPrefix: s.prefix, defaultTtlMs: 30_000 }),
          }),
        ],
      }).compile();
      await m.init();
      extraModules.push(m);
      const c = m.get(RedisCacheService);
      expect(c.isConnected()).toBe(true);
      expect(c.mode).toBe('standalone');
      await c.set('x', { ok: true });
      expect(JSON.parse((await raw.get('async:x'))!)).toEqual({ ok: true });
      expect(await raw.pttl('async:x')).toBeGreaterThan(29_000);
    });

    it('shares the one client through REDIS_CACHE_CLIENT and quits it on shutdown', async () => {
      const m = await cacheModule({ url: redis.url, keyPrefix: 'quit', connectionName: 'quit-me' });
      const client = m.get<RedisClient>(REDIS_CACHE_CLIENT);
      expect(client.status).toBe('ready');
      expect(await clientList(raw)).toContain('name=quit-me');
      await m.close();
      // QUIT resolves on the server's OK; the socket closes right after.
      await waitFor('the client to end', () => client.status === 'end', 2000, 10);
      await waitFor(
        'the server to drop the connection',
        async () => !(await clientList(raw)).includes('name=quit-me'),
        2000,
      );
      // Quit, not just dropped: no reconnection follows.
      await sleep(300);
      expect(await clientList(raw)).not.toContain('name=quit-me');
    });

    it('serves from process memory when no Redis is configured', async () => {
      const m = await cacheModule({ inMemory: true, keyPrefix: 'mem' });
      extraModules.push(m);
      const c = m.get(RedisCacheService);
      expect(c.mode).toBe('memory');
      expect(m.get(REDIS_CACHE_CLIENT)).toBeNull();
      await c.set('a', { v: 1 }, { ttlMs: 1000 });
      expect(await c.get('a')).toEqual({ v: 1 });
      expect(await c.clear('*')).toBe(1);
      expect(await raw.dbsize()).toBe(0);
    });
  });
});
