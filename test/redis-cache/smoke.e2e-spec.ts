import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { RedisCacheModule, RedisCacheService } from '@llm-cache/redis-cache';
import { RedisServer } from '../harness/redis-server.js';

describe('smoke', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });
  it('round trips', async () => {
    const mod = await Test.createTestingModule({
      imports: [RedisCacheModule.forRoot({ url: redis.url })],
    }).compile();
    await mod.init();
    const svc = mod.get(RedisCacheService);
    expect(svc.isConnected()).toBe(true);
    await svc.set('a', { x: 1 }, { ttlMs: 1000 });
    expect(await svc.get('a')).toEqual({ x: 1 });
    expect(await svc.clear('*')).toBe(1);
    await redis.kill();
    const t = Date.now();
    expect(await svc.get('a')).toBeUndefined();
    expect(Date.now() - t).toBeLessThan(200);
    await mod.close();
  });
});
