/**
 * Sentinel mode against a real redis-sentinel (`redis-server <conf> --sentinel`, from Debian's redis-server package)
 * monitoring a real master on loopback: the module asks the sentinel for the master and round-trips through it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { RedisCacheService } from '@llm-cache/redis-cache';
import { RedisSentinel, RedisServer } from '../harness/redis-server.js';
import { cacheModule, clientList, rawClient } from './support.js';

describe('RedisCacheModule through Redis Sentinel', () => {
  let master: RedisServer;
  let sentinel: RedisSentinel | undefined;
  let mod: TestingModule | undefined;

  beforeAll(async () => {
    master = await RedisServer.start();
    sentinel = await RedisSentinel.start('cachemaster', master.port);
  }, 30_000);

  afterAll(async () => {
    await mod?.close();
    await sentinel?.stop();
    await master?.stop();
  });

  it('finds the master through the sentinel and round-trips values on it', async () => {
    mod = await cacheModule({
      sentinel: { sentinels: [{ host: '127.0.0.1', port: sentinel!.port }], name: 'cachemaster' },
      keyPrefix: 'sent',
      connectionName: 'via-sentinel',
    });
    const cache = mod.get(RedisCacheService);
    expect(cache.mode).toBe('sentinel');
    expect(cache.isConnected()).toBe(true);
    expect(await cache.set('k', { via: 'sentinel' }, { ttlMs: 10_000 })).toBe(true);
    expect(await cache.get('k')).toEqual({ via: 'sentinel' });

    // The value is on the monitored master, written by the module's named connection.
    const raw = rawClient(master.port);
    try {
      expect(JSON.parse((await raw.get('sent:k'))!)).toEqual({ via: 'sentinel' });
      expect(await clientList(raw)).toContain('name=via-sentinel');
    } finally {
      raw.disconnect();
    }
    expect(await cache.clear('*')).toBe(1);
    expect((await cache.getCacheInfo()).nodes[0].info.tcp_port).toBe(String(master.port));
  });
});
