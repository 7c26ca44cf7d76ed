import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  InvalidRedisConfigError,
  RedisContainerService,
  type RedisContainerOptions,
  type RedisStartResult,
} from '@llm-cache/infra-docker';
import { DockerFixture, freePort, waitFor } from './docker-fixtures.js';

const MiB = 1024 ** 2;

describe('RedisContainerService against the Docker engine', () => {
  const fx = new DockerFixture();
  let containers: RedisContainerService;
  let options: RedisContainerOptions;
  let service: string;
  let started: RedisStartResult;

  beforeAll(async () => {
    await fx.setUp();
    containers = new RedisContainerService({ configDir: fx.configDir });
    service = fx.service('life');
    options = {
      image: fx.image,
      networkMode: 'host',
      hostPort: await freePort(),
      memoryLimitBytes: 256 * MiB,
      cpuLimitCores: 0.5,
      config: { maxmemory: '128mb' },
      healthIntervalMs: 250,
      healthTimeoutMs: 20_000,
    };
  }, 60_000);

  afterAll(() => fx.tearDown(), 60_000);

  it('starts redis-<service>, returns once healthy, and Redis answers PING on 127.0.0.1', async () => {
    started = await containers.start(service, options);
    expect(started).toMatchObject({
      success: true,
      containerName: `redis-${service}`,
      connectionUrl: `redis://127.0.0.1:${options.hostPort}`,
      created: true,
      alreadyRunning: false,
    });
    expect((await fx.inspect(service)).State.Health?.Status).toBe('healthy');
    const client = await fx.connect(started.connectionUrl);
    expect(await client.ping()).toBe('PONG');
  });

  it('reports running, healthy, uptime, memory and the URL in status()', async () => {
    const status = await containers.status(service);
    expect(status).toMatchObject({
      status: 'running',
      health: 'healthy',
      connectionUrl: started.connectionUrl,
      image: fx.image,
      memory: { usageBytes: expect.any(Number), limitBytes: 256 * MiB },
    });
    expect(status.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(status.memory!.usageBytes).toBeGreaterThan(0);
  });

  it('does nothing when started again', async () => {
    const before = await fx.inspect(service);
    const again = await containers.start(service, options);
    expect(again).toMatchObject({ created: false, alreadyRunning: true, containerId: started.containerId });
    expect((await fx.inspect(service)).State.StartedAt).toBe(before.State.StartedAt);
  });

  it('sets the memory limit (no extra swap), CPU limit, restart policy and mounts on the container', async () => {
    const info = await fx.inspect(service);
    expect(info.HostConfig).toMatchObject({
      Memory: 256 * MiB,
      NanoCpus: 500_000_000,
      RestartPolicy: { Name: 'unless-stopped' },
      NetworkMode: 'host',
    });
    expect(info.Mounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Type: 'volume', Name: `redis-${service}-data`, Destination: '/data' }),
        expect.objectContaining({ Type: 'bind', Destination: '/usr/local/etc/redis', RW: false }),
      ]),
    );
    // The server really runs with the generated file.
    const client = await fx.connect(started.connectionUrl);
    expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru']);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  });

  it('keeps the data across a graceful stop and a start (AOF on the named volume)', async () => {
    const client = await fx.connect(started.connectionUrl);
    await client.mset('answer', '42', 'greeting', 'hello');
    const stopped = await containers.stop(service);
    expect(stopped).toMatchObject({ wasRunning: true, exitCode: 0 });
    expect((await containers.status(service)).status).toBe('stopped');
    expect(await containers.stop(service)).toMatchObject({ wasRunning: false });

    const restarted = await containers.start(service, options);
    expect(restarted).toMatchObject({
      created: false,
      alreadyRunning: false,
      containerId: started.containerId,
    });
    const after = await fx.connect(restarted.connectionUrl);
    expect(await after.mget('answer', 'greeting')).toEqual(['42', 'hello']);
  });

  it('changes maxmemory on the running server and keeps it after a restart', async () => {
    const result = await containers.config.update(service, {
      maxmemory: '64mb',
      maxmemoryPolicy: 'allkeys-lfu',
    });
    expect(result).toMatchObject({
      applied: ['maxmemory', 'maxmemory-policy'],
      restartRequired: [],
      live: true,
    });
    const client = await fx.connect(started.connectionUrl);
    expect(await client.config('GET', 'maxmemory')).toEqual(['maxmemory', String(64 * MiB)]);
    expect(readFileSync(containers.config.store.confPath(service), 'utf8')).toMatch(/^maxmemory 64mb$/m);

    await containers.stop(service);
    await containers.start(service, options);
    const after = await fx.connect(started.connectionUrl);
    expect(await after.config('GET', 'maxmemory')).toEqual(['maxmemory', String(64 * MiB)]);
    expect(await after.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lfu']);
  });

  it('refuses an invalid change and leaves the server as it was', async () => {
    await expect(containers.config.update(service, { maxmemory: 'lots' })).rejects.toBeInstanceOf(
      InvalidRedisConfigError,
    );
    await expect(containers.config.update(service, { maxmemory: '1gb' })).rejects.toThrow(
      /above the container memory limit/,
    );
    const client = await fx.connect(started.connectionUrl);
    expect(await client.config('GET', 'maxmemory')).toEqual(['maxmemory', String(64 * MiB)]);
  });

  it('changes the password live: the old URL is refused, the new one works, health stays green', async () => {
    const first = await containers.config.update(service, { password: 'first-password-0123456789' });
    expect(first.connectionUrl).toBe(`redis://:first-password-0123456789@127.0.0.1:${options.hostPort}`);
    const anonymous = await fx.connect(started.connectionUrl);
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);

    const second = await containers.config.update(service, { password: 'second-password-0123456789' });
    await expect(anonymous.call('AUTH', 'first-password-0123456789')).rejects.toThrow(/WRONGPASS/);
    const stale = await fx.connect(first.connectionUrl);
    await expect(stale.ping()).rejects.toThrow();
    const client = await fx.connect(second.connectionUrl);
    expect(await client.ping()).toBe('PONG');
    expect(readFileSync(containers.config.store.confPath(service), 'utf8')).not.toContain('second-password');

    // The health check authenticates as its own PING-only user, so it keeps passing after the change.
    const inspectAfterProbe = await waitFor('a health probe after the change', 5000, async () => {
      const info = await fx.inspect(service);
      const last = info.State.Health?.Log?.at(-1);
      return last && Date.parse(last.Start) > Date.now() - 1000 ? info : undefined;
    });
    expect(inspectAfterProbe.State.Health?.Status).toBe('healthy');
    expect(inspectAfterProbe.State.Health?.Log?.at(-1)?.Output.trim()).toBe('PONG');
    expect((await containers.status(service)).connectionUrl).toBe(second.connectionUrl);
  });

  it('removes the container but keeps data and config, then everything with { volumes: true }', async () => {
    expect(await containers.remove(service)).toEqual({
      service,
      removedContainer: true,
      removedVolume: false,
    });
    expect((await containers.status(service)).status).toBe('missing');

    const recreated = await containers.start(service, options);
    expect(recreated.created).toBe(true);
    const client = await fx.connect(recreated.connectionUrl);
    expect(await client.get('answer')).toBe('42');

    expect(await containers.remove(service, { volumes: true })).toEqual({
      service,
      removedContainer: true,
      removedVolume: true,
    });
    expect(await containers.status(service)).toMatchObject({ status: 'missing', connectionUrl: null });
    await expect(fx.docker.getVolume(`redis-${service}-data`).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('production profile: auth on, a generated password, dangerous commands refused to the app user', async () => {
    const prod = fx.service('prod');
    const result = await containers.start(prod, {
      ...options,
      hostPort: await freePort(),
      profile: 'production',
      memoryLimitBytes: undefined,
      config: undefined,
    });
    expect(result.connectionUrl).toMatch(/^redis:\/\/:[\w-]{32}@127\.0\.0\.1:\d+$/);
    const anonymous = await fx.connect(result.connectionUrl.replace(/:[^:@/]+@/, ''));
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);

    const app = await fx.connect(result.connectionUrl);
    await app.set('k', 'v');
    for (const command of [['FLUSHALL'], ['FLUSHDB'], ['KEYS', '*'], ['CONFIG', 'GET', 'maxmemory']]) {
      await expect(app.call(command[0], ...command.slice(1))).rejects.toThrow(/NOPERM/);
    }
    // Redis 7 refuses DEBUG to everyone before ACLs are even consulted (enable-debug-command no).
    await expect(app.call('DEBUG', 'SLEEP', '0')).rejects.toThrow(/NOPERM|DEBUG command not allowed/);
    expect((await fx.inspect(prod)).HostConfig.Memory).toBe(1024 ** 3);

    // Live updates still work: they authenticate as the lib's admin user, not as the app.
    const updated = await containers.config.update(prod, { maxmemory: '512mb' });
    expect(updated.applied).toEqual(['maxmemory']);
    expect(await app.get('k')).toBe('v');
    await containers.remove(prod, { volumes: true });
  });
});
