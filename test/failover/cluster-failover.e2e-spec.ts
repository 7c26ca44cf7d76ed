/**
 * The real chatbot over a real Redis Cluster (3 masters + 3 replicas on loopback, cluster-node-timeout 1 s) with the
 * fake OpenAI upstream, under steady mixed load: a master SIGKILLed (its replica is promoted), a manual
 * `CLUSTER FAILOVER` on a replica, and a slot migration (`redis-cli --cluster reshard`). Each: no failed request,
 * coalescing holds outside the switch, hit ratio back to ≥ 90 % of before within 10 s. Numbers are printed.
 */
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RedisCluster, redisCli } from '../harness/redis-server.js';
import { LoadedChatbots, type FailoverLoad } from './failover-load.js';
import { expectFailoverCriteria, runScenario } from './scenario.js';

const run = promisify(execFile);

describe('chatbot on Redis Cluster: failover under load', () => {
  let cluster: RedisCluster;
  const apps = new LoadedChatbots();
  let load: FailoverLoad;

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    load = await apps.start('cluster', {
      REDIS_CLUSTER_NODES: cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(','),
    });
  }, 60_000);

  afterAll(async () => {
    await apps.stop();
    await cluster?.stop();
  }, 30_000);

  it('SIGKILL of a master: its replica is promoted and the app keeps serving', async () => {
    const topology = await cluster.topology();
    const master = topology.find((n) => n.role === 'master' && n.slots.length > 0)!;
    const replica = topology.find((n) => n.masterId === master.id)!;
    const r = await runScenario(
      load,
      'cluster: master SIGKILL',
      () => cluster.node(master.port).kill(),
      async () => {
        const now = await cluster.topology(replica.port);
        const promoted = now.find((n) => n.id === replica.id);
        return (
          promoted?.role === 'master' &&
          promoted.slots.length > 0 &&
          (await redisCli(replica.port, 'cluster', 'info')).includes('cluster_state:ok')
        );
      },
    );
    // The old master comes back as a replica of the promoted one, so the next scenarios have a full cluster.
    await cluster.node(master.port).restart();
    await cluster.waitUntilOk(20_000, 3);
    expectFailoverCriteria(r);
  }, 90_000);

  it('manual CLUSTER FAILOVER on a replica', async () => {
    const topology = await cluster.topology();
    const replica = topology.find((n) => n.role === 'replica' && !n.failed)!;
    const r = await runScenario(
      load,
      'cluster: manual CLUSTER FAILOVER',
      async () => void (await redisCli(replica.port, 'cluster', 'failover')),
      async () => (await cluster.topology(replica.port)).find((n) => n.id === replica.id)?.role === 'master',
    );
    await cluster.waitUntilOk(20_000, 3);
    expectFailoverCriteria(r);
  }, 90_000);

  it('slot migration (redis-cli --cluster reshard of 2000 slots) during load', async () => {
    const masters = (await cluster.topology()).filter((n) => n.role === 'master' && n.slots.length > 0);
    const [from, to] = masters;
    let done = false;
    let failure: Error | undefined;
    const r = await runScenario(
      load,
      'cluster: reshard 2000 slots',
      () => {
        void run(
          'redis-cli',
          [
            '--cluster',
            'reshard',
            `127.0.0.1:${from.port}`,
            '--cluster-from',
            from.id,
            '--cluster-to',
            to.id,
            '--cluster-slots',
            '2000',
            '--cluster-yes',
          ],
          { timeout: 60_000 },
        ).then(
          () => (done = true),
          (err: Error) => (failure = err),
        );
      },
      () => {
        if (failure) throw failure;
        return done;
      },
    );
    await cluster.waitUntilOk(20_000, 3);
    expectFailoverCriteria(r);
  }, 90_000);
});
