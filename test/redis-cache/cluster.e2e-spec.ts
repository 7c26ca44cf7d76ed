/**
 * RedisCacheModule on a real 3-master Redis Cluster (redis-cli --cluster create): keys spread over every master,
 * clear() reaches all of them with SCAN + UNLINK and stays inside the prefix and the pattern.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { RedisCacheService } from '@llm-cache/redis-cache';
import { RedisCluster } from '../harness/redis-server.js';
import { cacheModule, rawClient } from './support.js';

describe('RedisCacheService on a 3-master cluster', () => {
  let cluster: RedisCluster;
  let nodes: Redis[] = [];
  let mod: TestingModule | undefined;
  let cache: RedisCacheService;

  /** The node that serves a key's slot, by asking CLUSTER KEYSLOT and CLUSTER SLOTS. */
  async function ownerOf(key: string): Promise<number> {
    const slot = Number(await nodes[0].call('CLUSTER', 'KEYSLOT', key));
    const ranges = (await nodes[0].call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    const range = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)!;
    return range[2][1];
  }

  async function ownerClient(key: string): Promise<Redis> {
    const port = await ownerOf(key);
    return nodes[cluster.nodes.findIndex((n) => n.port === port)];
  }

  const dbsizes = () => Promise.all(nodes.map((n) => n.dbsize()));

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    nodes = cluster.nodes.map((n) => rawClient(n.port));
    mod = await cacheModule({
      cluster: { nodes: cluster.startupNodes.slice(0, 1) },
      keyPrefix: 'c',
      commandTimeoutMs: 500,
    });
    cache = mod.get(RedisCacheService);
  }, 60_000);

  afterAll(async () => {
    await mod?.close();
    nodes.forEach((n) => n.disconnect());
    await cluster?.stop();
  });

  it('connects through one startup node and discovers the three masters', async () => {
    expect(cache.mode).toBe('cluster');
    expect(cache.isConnected()).toBe(true);
    const info = await cache.getCacheInfo();
    expect(info.connected).toBe(true);
    expect(info.nodes.map((n) => Number(n.address.split(':')[1])).sort()).toEqual(
      cluster.nodes.map((n) => n.port).sort(),
    );
  });

  it('releases many locks at once on keys of every master (EVAL beside GETs of other slots)', async () => {
    // Regression: with ioredis auto-pipelining on a cluster, a concurrent EVAL was batched by its script's slot
    // with GETs for other slots, and the batch failed ("same slots allocation group"): locks stayed held.
    const keys = Array.from({ length: 40 }, (_, i) => `lock:${i}`);
    const locks = await Promise.all(keys.map((k) => cache.acquireLock(k, 10_000)));
    expect(locks.map((l) => l.status)).toEqual(keys.map(() => 'acquired'));
    const tokens = locks.map((l) => (l.status === 'acquired' ? l.token : ''));
    const [released] = await Promise.all([
      Promise.all(keys.map((k, i) => cache.releaseLock(k, tokens[i]))),
      Promise.all(keys.map((k) => cache.get(`absent:${k}`))),
    ]);
    expect(released).toEqual(keys.map(() => true));
    const left = await Promise.all(keys.map(async (k) => (await ownerClient(`c:${k}`)).exists(`c:${k}`)));
    expect(left).toEqual(keys.map(() => 0));
  });

  it('round-trips values whose keys live on different masters, and reads them back in one getMany', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `rt:${i}`);
    for (const k of keys) await cache.set(k, { k });
    const owners = new Set(await Promise.all(keys.map((k) => ownerOf(`c:${k}`))));
    expect(owners.size).toBe(3);
    expect(await cache.getMany(keys)).toEqual(keys.map((k) => ({ k })));
    expect(await cache.clear('rt:*')).toBe(30);
  });

  it('clear("llm:*") deletes exactly the matching keys on every master and nothing outside prefix or pattern', async () => {
    const llmKeys = Array.from({ length: 300 }, (_, i) => `llm:v1:t:${i}`);
    for (const k of llmKeys) await cache.set(k, k, { ttlMs: 60_000 });
    // Neighbours that must survive: same prefix other pattern, other prefix same pattern, a look-alike prefix.
    await cache.set('keep:1', 1);
    await cache.set('llmx', 1);
    const outsider = new Redis.Cluster(cluster.startupNodes);
    try {
      await outsider.set('llm:v1:t:0', 'not ours');
      await outsider.set('other:llm:1', 'not ours');
      await outsider.set('cc:llm:1', 'not ours');

      const perNode = await Promise.all(nodes.map(async (n) => (await n.keys('c:llm:*')).length));
      // Every master holds some of the keys to clear (CLUSTER KEYSLOT spread), so a single-node SCAN would miss some.
      expect(perNode.every((n) => n > 0)).toBe(true);
      expect(perNode.reduce((a, b) => a + b, 0)).toBe(300);
      // The service's own counter hash (`c:stats`) is written by a background flush: written now, not mid-count.
      await cache.flushCounters();
      const before = await dbsizes();

      expect(await cache.clear('llm:*')).toBe(300);

      const after = await dbsizes();
      expect(after.reduce((a, b) => a + b, 0)).toBe(before.reduce((a, b) => a + b, 0) - 300);
      for (let n = 0; n < 3; n++) expect(after[n]).toBe(before[n] - perNode[n]);
      expect((await Promise.all(nodes.map((n) => n.keys('c:llm:*')))).flat()).toEqual([]);
      const survivors = (await Promise.all(nodes.map((n) => n.keys('*'))))
        .flat()
        .filter((k) => k !== 'c:stats')
        .sort();
      expect(survivors).toEqual(['c:keep:1', 'c:llmx', 'cc:llm:1', 'llm:v1:t:0', 'other:llm:1']);
    } finally {
      await outsider.quit();
    }
  });

  it('matches glob metacharacters in the prefix literally on every master', async () => {
    const m = await cacheModule({ cluster: { nodes: cluster.startupNodes }, keyPrefix: 'a?b*' });
    const client = new Redis.Cluster(cluster.startupNodes);
    try {
      const c = m.get(RedisCacheService);
      for (let i = 0; i < 20; i++) await c.set(`llm:${i}`, i);
      await client.set('aXbYYY:llm:1', 'glob would match');
      await client.set('aXbYYY:llm:2', 'glob would match');
      expect(await c.clear('llm:*')).toBe(20);
      expect(await client.get('aXbYYY:llm:1')).toBe('glob would match');
      expect(await client.get('aXbYYY:llm:2')).toBe('glob would match');
    } finally {
      await client.quit();
      await m.close();
    }
  });

  it('takes a lock unless the entry exists, and stores + unlocks, in one script each, on keys of every master', async () => {
    // LLM-style keys: the digest is a hash tag, so an entry and its lock share a slot wherever that slot lives.
    const digests = Array.from({ length: 12 }, (_, i) => `${i}`.padStart(64, 'a'));
    const owners = new Set(await Promise.all(digests.map((d) => ownerOf(`c:llm:v2:t:{${d}}`))));
    expect(owners.size).toBe(3);
    for (const d of digests) {
      const entryKey = `llm:v2:t:{${d}}`;
      const lockKey = `llm-lock:v2:t:{${d}}`;
      const first = await cache.acquireLockUnlessPresent<{ d: string }>(lockKey, 5_000, entryKey);
      expect(first.status).toBe('acquired');
      expect((await cache.acquireLockUnlessPresent(lockKey, 5_000, entryKey)).status).toBe('held');
      const token = (first as { token: string }).token;
      expect(await cache.setAndReleaseLock(entryKey, { d }, { ttlMs: 5_000, lockKey, token })).toBe(true);
      expect(await cache.exists(lockKey)).toBe(false);
      expect(await cache.acquireLockUnlessPresent(lockKey, 5_000, entryKey)).toEqual({
        status: 'present',
        value: { d },
      });
      expect(await cache.exists(lockKey)).toBe(false);
    }
    // Without the shared tag the same script is refused by the cluster (CROSSSLOT): that is what the tag is for.
    let i = 0;
    while ((await ownerOf(`c:lock:${i}`)) === (await ownerOf(`c:entry:${i}`))) i++;
    expect((await cache.acquireLockUnlessPresent(`lock:${i}`, 5_000, `entry:${i}`)).status).toBe(
      'unavailable',
    );
  });
});
