/**
 * Sentinel mode against a real redis-sentinel (`redis-server <conf> --sentinel`, from Debian's redis-server package)
 * monitoring a real master on loopback: the module asks the sentinel for the master and round-trips through it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisCacheService } from '@llm-cache/redis-cache';
import { freePort, RedisServer } from '../harness/redis-server.js';
import { cacheModule, clientList, rawClient, waitFor } from './support.js';

/** One sentinel process, stopped by pid (also from an exit hook if the worker dies first). */
class Sentinel {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(masterName: string, masterPort: number): Promise<Sentinel> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `llm-cache-sentinel-${port}-`));
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${masterName} 5000`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel', '--loglevel', 'warning'], { stdio: 'ignore' });
    const kill = () => child.exitCode === null && child.kill('SIGKILL');
    process.once('exit', kill);
    const sentinel = new Sentinel(port, child, dir);
    const probe = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      disconnectTimeout: 50,
    });
    try {
      await waitFor(
        'the sentinel to know the master',
        async () => {
          try {
            if (probe.status !== 'ready') await probe.connect();
            const addr = (await probe.call('SENTINEL', 'get-master-addr-by-name', masterName)) as
              string[] | null;
            return addr?.[1] === String(masterPort);
          } catch {
            probe.disconnect();
            return false;
          }
        },
        10_000,
        100,
      );
    } catch (err) {
      await sentinel.stop();
      throw err;
    } finally {
      probe.disconnect();
    }
    return sentinel;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('RedisCacheModule through Redis Sentinel', () => {
  let master: RedisServer;
  let sentinel: Sentinel | undefined;
  let mod: TestingModule | undefined;

  beforeAll(async () => {
    master = await RedisServer.start();
    sentinel = await Sentinel.start('cachemaster', master.port);
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
