import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type Docker from 'dockerode';
import { InvalidRedisConfigError } from './infra-docker.errors.js';
import type { RedisContainerOptions } from './redis-container.interfaces.js';
import { RedisContainerService } from './redis-container.service.js';
import type { RedisServiceState } from './redis-service.store.js';

const root = mkdtempSync(join(tmpdir(), 'llm-cache-container-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Exposes the protected create-options hook; nothing here talks to Docker. */
class InspectableContainers extends RedisContainerService {
  createOptionsFor(
    state: RedisServiceState,
    options: RedisContainerOptions = {},
  ): Docker.ContainerCreateOptions {
    return this.createOptions(state, this.resolveOptions(options));
  }
}

describe('RedisContainerService (without an engine)', () => {
  const containers = new InspectableContainers({ configDir: root, redisServerPath: false });

  it('publishes 6379 on 127.0.0.1 by default, with Redis on all container interfaces and protected mode off', async () => {
    const state = await containers.plan('bridge');
    expect(state.config).toMatchObject({ bind: ['0.0.0.0'], port: 6379, protectedMode: false });
    expect(state.config.password).toBeUndefined();
    expect(state.endpoint).toEqual({ host: '127.0.0.1', port: 6379, bindAddress: '127.0.0.1' });
    expect(state.context).toEqual({ publishedOn: '127.0.0.1', memoryLimitBytes: 512 * 1024 ** 2 });
    const create = containers.createOptionsFor(state);
    expect(create.HostConfig?.PortBindings).toEqual({
      '6379/tcp': [{ HostIp: '127.0.0.1', HostPort: '6379' }],
    });
    expect(create.ExposedPorts).toEqual({ '6379/tcp': {} });
  });

  it('on the host network lets Redis bind the requested address and port itself', async () => {
    const state = await containers.plan('host', { networkMode: 'host', hostPort: 16380 });
    expect(state.config).toMatchObject({ bind: ['127.0.0.1'], port: 16380, protectedMode: true });
    expect(state.context.publishedOn).toBeUndefined();
    const create = containers.createOptionsFor(state, { networkMode: 'host', hostPort: 16380 });
    expect(create.HostConfig?.NetworkMode).toBe('host');
    expect(create.HostConfig?.PortBindings).toBeUndefined();
    expect(create.Healthcheck?.Test).toEqual(expect.arrayContaining(['-h', '127.0.0.1', '-p', '16380']));
  });

  it('generates a password for production and keeps the one it was given otherwise', async () => {
    const production = await containers.plan('prod', { profile: 'production' });
    expect(production.config.password).toMatch(/^[\w-]{32}$/);
    expect(production.config.maxmemoryPolicy).toBe('allkeys-lfu');
    expect(production.context.memoryLimitBytes).toBe(1024 ** 3);
    const given = await containers.plan('given', {
      profile: 'production',
      config: { password: 'mine-0123456789abcdef' },
    });
    expect(given.config.password).toBe('mine-0123456789abcdef');
    expect(given.adminPassword).not.toBe(production.adminPassword);
  });

  it('refuses ACL users named like the lib users or "default"', async () => {
    await expect(
      containers.plan('reserved', { config: { aclUsers: [{ name: 'llm-cache-admin' }] } }),
    ).rejects.toBeInstanceOf(InvalidRedisConfigError);
  });

  it('builds the container: command, labels, limits, restart policy, volume, read-only conf, health check in ns', async () => {
    const state = await containers.plan('full', { memoryLimitBytes: 64 * 1024 ** 2, cpuLimitCores: 0.5 });
    const create = containers.createOptionsFor(state, {
      image: 'redis:7-alpine',
      memoryLimitBytes: 64 * 1024 ** 2,
      cpuLimitCores: 0.5,
      healthIntervalMs: 500,
      healthTimeoutMs: 20_000,
    });
    expect(create).toMatchObject({
      name: 'redis-full',
      Image: 'redis:7-alpine',
      Cmd: ['redis-server', '/usr/local/etc/redis/redis.conf'],
      Labels: { 'llm-cache.managed-by': '@llm-cache/infra-docker', 'llm-cache.service': 'full' },
      StopSignal: 'SIGTERM',
      HostConfig: {
        Memory: 64 * 1024 ** 2,
        MemorySwap: 64 * 1024 ** 2,
        NanoCpus: 500_000_000,
        RestartPolicy: { Name: 'unless-stopped' },
        Mounts: [
          { Type: 'volume', Source: 'redis-full-data', Target: '/data' },
          {
            Type: 'bind',
            Source: join(root, 'full', 'conf'),
            Target: '/usr/local/etc/redis',
            ReadOnly: true,
          },
        ],
      },
    });
    expect(create.Healthcheck).toEqual({
      Test: [
        'CMD',
        'redis-cli',
        '-e',
        '-h',
        '127.0.0.1',
        '-p',
        '6379',
        '--user',
        'llm-cache-health',
        '--pass',
        'ping-only',
        '--no-auth-warning',
        'ping',
      ],
      Interval: 500_000_000,
      Timeout: 3_000_000_000,
      Retries: 3,
      StartPeriod: 20_000_000_000,
    });
  });

  it('refuses service names Docker would refuse, before doing anything', async () => {
    await expect(containers.start('bad name')).rejects.toThrow(/invalid service name "bad name"/);
    await expect(containers.status('../x')).rejects.toThrow(/invalid service name/);
  });
});
