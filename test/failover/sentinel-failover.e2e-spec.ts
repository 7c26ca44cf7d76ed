/**
 * The real chatbot (two instances) through Redis Sentinel (1 master + 1 replica + 3 sentinels on loopback,
 * down-after-milliseconds 1000) with the fake OpenAI upstream, under steady mixed load: the master is SIGKILLed, the
 * sentinels promote the replica and the app follows it. No failed request, coalescing holds outside the switch, hit
 * ratio back to ≥ 90 % of before within 10 s. Numbers are printed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RedisSentinelGroup, redisCli } from '../harness/redis-server.js';
import { LoadedChatbots, type FailoverLoad } from './failover-load.js';
import { expectFailoverCriteria, runScenario } from './scenario.js';

describe('chatbot on Redis Sentinel: failover under load', () => {
  let group: RedisSentinelGroup;
  const apps = new LoadedChatbots();
  let load: FailoverLoad;

  beforeAll(async () => {
    group = await RedisSentinelGroup.start({
      replicas: 1,
      sentinels: 3,
      downAfterMs: 1000,
      failoverTimeoutMs: 10_000,
    });
    load = await apps.start('sentinel', {
      REDIS_SENTINELS: group.sentinelNodes.map((n) => `${n.host}:${n.port}`).join(','),
      REDIS_SENTINEL_NAME: group.masterName,
    });
  }, 60_000);

  afterAll(async () => {
    await apps.stop();
    await group?.stop();
  }, 30_000);

  it('master SIGKILL: the sentinels promote the replica and the app follows it', async () => {
    const oldMaster = (await group.masterPort())!;
    const replica = group.servers.find((s) => s.port !== oldMaster)!;
    const r = await runScenario(
      load,
      'sentinel: master SIGKILL',
      () => group.server(oldMaster).kill(),
      async () => (await group.masterPort()) === replica.port,
    );
    expectFailoverCriteria(r);
    // The app really writes to the promoted master now: new misses keep landing there.
    expect(await redisCli(replica.port, 'role')).toMatch(/^master/);
    const before = Number(await redisCli(replica.port, 'dbsize'));
    await new Promise((res) => setTimeout(res, 1000));
    expect(Number(await redisCli(replica.port, 'dbsize'))).toBeGreaterThan(before);
  }, 90_000);

  it('SENTINEL FAILOVER (the old master stays up and is demoted): the app follows the new master', async () => {
    // The master killed above comes back; the sentinels turn it into a replica of the promoted one.
    const killed = group.servers.find((s) => !s.running)!;
    await killed.restart();
    const deadline = Date.now() + 20_000;
    while (!(await redisCli(killed.port, 'info', 'replication')).includes('master_link_status:up')) {
      if (Date.now() > deadline) throw new Error('the old master did not rejoin as a replica');
      await new Promise((res) => setTimeout(res, 200));
    }
    const oldMaster = (await group.masterPort())!;
    // When the sentinels switch, and when the app's connections (named after the cache prefix) leave the old master.
    let switchedAt: number | undefined;
    let leftAt: number | undefined;
    const appOnOldMaster = async () =>
      (await redisCli(oldMaster, 'client', 'list')).includes('name=llm-cache');
    expect(await appOnOldMaster()).toBe(true);
    const r = await runScenario(
      load,
      'sentinel: SENTINEL FAILOVER',
      async () => {
        // Refused with NOGOODSLAVE until the sentinel has refreshed the rejoined replica's state: retry, bounded.
        const deadline = Date.now() + 15_000;
        for (;;) {
          const out = await redisCli(group.sentinels[0].port, 'sentinel', 'failover', group.masterName);
          if (out.startsWith('OK')) return;
          if (Date.now() > deadline) throw new Error(`SENTINEL FAILOVER refused: ${out}`);
          await new Promise((res) => setTimeout(res, 250));
        }
      },
      async () => {
        if (switchedAt === undefined && (await group.masterPort()) === killed.port) switchedAt = Date.now();
        if (switchedAt !== undefined && leftAt === undefined && !(await appOnOldMaster()))
          leftAt = Date.now();
        return leftAt !== undefined && (await redisCli(oldMaster, 'role')).startsWith('slave');
      },
      // Recovery from the demotion: until then the app is still on the old master (hits unaffected), see below.
      // Settling (switch + the app leaving the old master, ~10 s when idle) took over 30 s once on a loaded box.
      { settleTimeoutMs: 45_000, recoverFromSettled: true },
    );
    const followMs = leftAt! - switchedAt!;
    process.stdout.write(`[failover] sentinel: app left the old master ${followMs} ms after the switch\n`);
    // Measured ~9.8 s: the client learns of the switch only when the sentinels demote the old master (they re-check
    // its INFO every 10 s) and a write gets READONLY (reconnectOnError). Entries written there meanwhile are lost —
    // cache entries, so the cost is extra misses. ioredis' failoverDetector (+switch-master) would cut this, but on
    // ioredis 5.9 it left the client without a connection after a SIGKILLed master (hit ratio 0 % for the whole 12 s
    // observation, test above), so it stays off. Bound: demotion (~10 s) plus the reconnect.
    expect(followMs).toBeLessThan(15_000);
    expectFailoverCriteria(r);
    const before = Number(await redisCli(killed.port, 'dbsize'));
    await new Promise((res) => setTimeout(res, 1000));
    expect(Number(await redisCli(killed.port, 'dbsize'))).toBeGreaterThan(before);
  }, 120_000);
});
