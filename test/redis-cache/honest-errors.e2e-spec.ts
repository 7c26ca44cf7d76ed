/**
 * Results that tell the truth, and failures logged with their cause, against real redis-server processes: a pattern
 * delete cut by its deadline says so (`complete: false`, the count so far); "Redis unavailable" is a typed error,
 * never `0 deleted` or empty stats; WRONGPASS, NOAUTH, READONLY and TLS failures are named in the log; the circuit
 * breaker logs once per state change, not once per probe.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  RedisCacheModule,
  RedisCacheService,
  RedisUnavailableError,
  type RedisCacheModuleOptions,
} from '@llm-cache/redis-cache';
import { LogCapture } from '../harness/log-capture.js';
import { RedisServer } from '../harness/redis-server.js';
import { rawClient, sleep, TEST_COMMAND_TIMEOUT_MS, waitFor } from './support.js';

async function start(
  options: RedisCacheModuleOptions,
): Promise<{ mod: TestingModule; cache: RedisCacheService; logs: LogCapture }> {
  const logs = new LogCapture();
  const mod = await Test.createTestingModule({
    imports: [
      RedisCacheModule.forRoot({
        commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS,
        connectTimeoutMs: 1000,
        ...options,
      }),
    ],
  })
    .setLogger(logs)
    .compile();
  await mod.init();
  return { mod, cache: mod.get(RedisCacheService), logs };
}

const warnings = (logs: LogCapture) => logs.lines.filter((l) => l.context === 'RedisCacheService');

describe('pattern deletes and admin reads that tell the truth', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('deletes every match and says complete: true', async () => {
    const { mod, cache } = await start({ url: redis.url, keyPrefix: 'hd1' });
    try {
      await Promise.all(Array.from({ length: 1200 }, (_, i) => cache.set(`llm:${i}`, { i })));
      await cache.set('other:1', 1);
      expect(await cache.deleteByPattern('llm:*')).toEqual({ deleted: 1200, complete: true });
      expect(await cache.get('other:1')).toBe(1);
    } finally {
      await mod.close();
    }
  });

  it('stops at its deadline with complete: false and exactly the count it deleted', async () => {
    const { mod, cache } = await start({ url: redis.url, keyPrefix: 'hd2' });
    const raw = rawClient(redis.port);
    try {
      const pipeline = raw.pipeline();
      for (let i = 0; i < 6000; i++) pipeline.set(`hd2:llm:${i}`, 'x');
      await pipeline.exec();
      const result = await cache.deleteByPattern('llm:*', { deadlineMs: 1 });
      expect(result.complete).toBe(false);
      const left = (await raw.keys('hd2:llm:*')).length;
      expect(result.deleted).toBe(6000 - left);
      expect(left).toBeGreaterThan(0);
      // The rest on a second run.
      expect(await cache.deleteByPattern('llm:*')).toEqual({ deleted: left, complete: true });
    } finally {
      raw.disconnect();
      await mod.close();
    }
  });

  it('with Redis down: RedisUnavailableError with the reason instead of 0 deleted or empty stats', async () => {
    const down = await RedisServer.start();
    const { mod, cache } = await start({
      url: down.url,
      keyPrefix: 'hd3',
      breaker: { failureThreshold: 2, resetTimeoutMs: 60_000 },
    });
    try {
      await cache.set('llm:1', 1);
      await down.kill();
      const err = await cache.deleteByPattern('llm:*').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as RedisUnavailableError).reason).toMatch(/^[A-Z]+: /);
      await expect(cache.getCacheInfo({ requireRedis: true })).rejects.toBeInstanceOf(RedisUnavailableError);
      // The breaker is open now: still a typed error, and it still says why.
      const stats = await cache.readCounters('stats', { requireRedis: true }).catch((e: unknown) => e);
      expect(stats).toBeInstanceOf(RedisUnavailableError);
      expect((stats as RedisUnavailableError).reason).toMatch(/circuit breaker open.*last failure: [A-Z]+: /);
      // The fail-open forms are unchanged for callers that want best effort.
      expect(await cache.clear('llm:*')).toBe(0);
      expect((await cache.getCacheInfo()).connected).toBe(false);
      expect(await cache.readCounters('stats')).toEqual({});
    } finally {
      await mod.close();
      await down.stop();
    }
  });
});

describe('Redis failures are logged with their cause', () => {
  let secured: RedisServer;
  beforeAll(async () => {
    secured = await RedisServer.start({ args: ['--requirepass', 'right-password-123'] });
  });
  afterAll(async () => {
    await secured?.stop();
  });

  it('a wrong password: WRONGPASS in the log (once, not per reconnect), never the password', async () => {
    const { mod, cache, logs } = await start({
      url: `redis://:wrong-password-456@127.0.0.1:${secured.port}`,
      keyPrefix: 'wp',
    });
    try {
      expect(await cache.set('k', 1)).toBe(false);
      await sleep(600); // several reconnect attempts, each failing the same way
      const wrongpass = logs.matching(/WRONGPASS/, 'RedisCacheService');
      expect(wrongpass.length).toBeGreaterThanOrEqual(1);
      expect(logs.matching(/Redis connection error.*WRONGPASS/)).toHaveLength(1);
      const reason = await cache
        .getCacheInfo({ requireRedis: true })
        .catch((e: RedisUnavailableError) => e.reason);
      expect(reason).toMatch(/WRONGPASS/);
      expect(logs.text()).not.toContain('wrong-password-456');
    } finally {
      await mod.close();
    }
  });

  it('no password for a server that needs one: NOAUTH', async () => {
    const { mod, logs } = await start({ url: secured.url, keyPrefix: 'na' });
    try {
      await waitFor('a NOAUTH log line', () => logs.matching(/NOAUTH/).length > 0, 3000);
    } finally {
      await mod.close();
    }
  });

  it('a read-only replica: writes fail with READONLY in the log, reads still work', async () => {
    const master = await RedisServer.start();
    const replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    const raw = rawClient(master.port);
    const { mod, cache, logs } = await start({ url: replica.url, keyPrefix: 'ro' });
    try {
      await raw.set('ro:k', JSON.stringify('from master'));
      await waitFor('replication', async () => (await cache.getRaw('k')) !== undefined, 15_000);
      expect(await cache.set('k2', 1)).toBe(false);
      expect(logs.matching(/READONLY/, 'RedisCacheService').length).toBeGreaterThanOrEqual(1);
    } finally {
      raw.disconnect();
      await mod.close();
      await replica.stop();
      await master.stop();
    }
  });

  it('a TLS server whose certificate is not trusted: a TLS cause in the log', async () => {
    // A local TLS endpoint with a fresh self-signed certificate: the client refuses it during the handshake.
    const dir = mkdtempSync(join(tmpdir(), 'llm-cache-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const server = createTlsServer(
      {
        key: readFileSync(join(dir, 'key.pem')),
        cert: readFileSync(join(dir, 'cert.pem')),
      },
      (socket) => socket.destroy(),
    );
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const { mod, cache, logs } = await start({ url: `rediss://127.0.0.1:${port}`, keyPrefix: 'tls' });
    try {
      expect(await cache.set('k', 1)).toBe(false);
      await waitFor('a TLS log line', () => logs.matching(/Redis connection error.*TLS: /).length > 0, 3000);
    } finally {
      await mod.close();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the circuit breaker logs once when it opens and once when it closes, not once per failed probe', async () => {
    const flaky = await RedisServer.start();
    const { mod, cache, logs } = await start({
      url: flaky.url,
      keyPrefix: 'cb',
      commandTimeoutMs: 50,
      breaker: { failureThreshold: 2, resetTimeoutMs: 50 },
    });
    try {
      await flaky.kill();
      // ~1 s of traffic: a probe every 50 ms, each failing.
      for (let i = 0; i < 100; i++) {
        await cache.get(`k${i}`);
        await sleep(10);
      }
      expect(logs.matching(/circuit breaker opened/)).toHaveLength(1);
      expect(logs.matching(/circuit breaker closed/)).toHaveLength(0);
      await flaky.restart();
      await waitFor('the breaker to close', async () => {
        await cache.get('probe');
        return cache.getCircuitState() === 'closed';
      });
      expect(logs.matching(/circuit breaker opened/)).toHaveLength(1);
      expect(logs.matching(/circuit breaker closed/)).toHaveLength(1);
      // Failed command lines are rate-limited too (one per 10 s, with a count of the rest).
      expect(logs.matching(/Redis get failed/).length).toBeLessThanOrEqual(2);
      expect(warnings(logs).length).toBeLessThan(10);
    } finally {
      await mod.close();
      await flaky.stop();
    }
  });
});
