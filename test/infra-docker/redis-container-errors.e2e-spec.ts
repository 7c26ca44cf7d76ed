import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ContainerNameConflictError,
  DockerEngineUnreachableError,
  ImageUnavailableError,
  PortInUseError,
  RedisContainerService,
  RedisUnhealthyError,
  type RedisContainerOptions,
  type RedisContainerProgressEvent,
} from '@llm-cache/infra-docker';
import { DockerFixture, freePort } from './docker-fixtures.js';

describe('RedisContainerService failures, each with a clear error', () => {
  const fx = new DockerFixture();
  let containers: RedisContainerService;
  let base: RedisContainerOptions;

  beforeAll(async () => {
    await fx.setUp();
    containers = new RedisContainerService({ configDir: fx.configDir });
    base = { image: fx.image, networkMode: 'host', healthIntervalMs: 250, healthTimeoutMs: 10_000 };
  }, 60_000);

  afterAll(() => fx.tearDown(), 60_000);

  /** Nothing of a failed start may linger: no container, no volume, no stored config. */
  async function expectNothingLeft(service: string): Promise<void> {
    await expect(fx.inspect(service)).rejects.toMatchObject({ statusCode: 404 });
    await expect(fx.docker.getVolume(`redis-${service}-data`).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    expect(existsSync(join(fx.configDir, service))).toBe(false);
  }

  it('engine unreachable: names the socket and what to do, for every operation', async () => {
    const offline = new RedisContainerService({
      configDir: fx.configDir,
      docker: { socketPath: join(fx.configDir, 'no-dockerd.sock') },
    });
    for (const attempt of [
      () => offline.start('x', base),
      () => offline.status('x'),
      () => offline.stop('x'),
      () => offline.remove('x'),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DockerEngineUnreachableError);
      expect((error as Error).message).toMatch(
        /Cannot reach the Docker engine at unix:\/\/.*no-dockerd\.sock: connect ENOENT/,
      );
    }
  });

  it('image missing offline: says the engine lacks it and pulling is disabled', async () => {
    const service = fx.service('noimage');
    const error = await containers
      .start(service, {
        ...base,
        hostPort: await freePort(),
        image: 'llm-cache/never-built:0',
        pullPolicy: 'never',
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageUnavailableError);
    expect((error as Error).message).toMatch(
      /Docker image llm-cache\/never-built:0 is not available: the engine does not have it and pulling is disabled/,
    );
    await expectNothingLeft(service);
  });

  it('image that cannot be pulled: reports the pull, then why it failed (a registry on 127.0.0.1 that refuses)', async () => {
    const service = fx.service('nopull');
    const events: RedisContainerProgressEvent[] = [];
    const image = `127.0.0.1:${await freePort()}/llm-cache/missing:1`;
    const error = await containers
      .start(service, { ...base, hostPort: await freePort(), image, onProgress: (e) => events.push(e) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageUnavailableError);
    expect((error as Error).message).toMatch(/is not available: pulling it failed: .*connection refused/);
    expect(events).toContainEqual({ phase: 'pull', message: `pulling ${image}` });
    await expectNothingLeft(service);
  });

  it('port in use: refuses before creating anything', async () => {
    const service = fx.service('busy');
    const port = await freePort();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const error = await containers.start(service, { ...base, hostPort: port }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortInUseError);
      expect((error as Error).message).toMatch(
        new RegExp(`Port 127\\.0\\.0\\.1:${port} is already in use .*choose another port \\(--port\\)`),
      );
      await expectNothingLeft(service);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('name conflict: never touches a redis-<service> container it did not create', async () => {
    const service = fx.service('foreign');
    await fx.docker.createContainer({
      name: `redis-${service}`,
      Image: fx.image,
      Cmd: ['redis-server', '--port', '0'],
    });
    for (const attempt of [
      () => containers.start(service, { ...base, hostPort: 1 }),
      () => containers.stop(service),
      () => containers.remove(service, { volumes: true }),
      () => containers.status(service),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContainerNameConflictError);
      expect((error as Error).message).toMatch(
        new RegExp(`container named redis-${service} already exists and was not created by`),
      );
    }
    expect((await fx.inspect(service)).State.Status).toBe('created');
  });

  it('a server that dies at start: fails fast with its logs, and the restart policy does not loop', async () => {
    const service = fx.service('dies');
    // Valid for redis-server on the host (the checker keeps sockets in its scratch dir); impossible in the container.
    const started = Date.now();
    const error = await containers
      .start(service, {
        ...base,
        hostPort: await freePort(),
        config: { extraDirectives: ['unixsocket /no/such/dir/redis.sock'] },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnhealthyError);
    expect((error as Error).message).toMatch(
      new RegExp(`redis-${service} exited with code \\d+ while starting`),
    );
    expect((error as RedisUnhealthyError).logs).toMatch(/Unix socket/i);
    expect(Date.now() - started).toBeLessThan(10_000);
    const info = await fx.inspect(service);
    expect(info.State.Running).toBe(false);
    expect((await containers.status(service)).status).toBe('stopped');
    await containers.remove(service, { volumes: true });
  });

  it('a server that never becomes healthy: gives up after healthTimeoutMs with the last probe', async () => {
    const service = fx.service('slow');
    // The health user may not even PING: the probe fails while the server runs fine.
    const options: RedisContainerOptions = { ...base, hostPort: await freePort(), healthTimeoutMs: 2000 };
    class NoPingHealthcheck extends RedisContainerService {
      protected override healthcheck(...args: Parameters<RedisContainerService['healthcheck']>) {
        const check = super.healthcheck(...args);
        return { ...check, Test: check.Test!.map((part) => (part === 'ping' ? 'get' : part)).concat('x') };
      }
    }
    const error = await new NoPingHealthcheck({ configDir: fx.configDir })
      .start(service, options)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnhealthyError);
    expect((error as Error).message).toMatch(
      /was not healthy after 2000 ms \(health: starting, last probe: NOPERM/,
    );
    await containers.remove(service, { volumes: true });
  });
});
