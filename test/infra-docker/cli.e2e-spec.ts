import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DockerFixture, freePort } from './docker-fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'libs', 'infra-docker', 'dist', 'cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `npm run redis -- …` as users run it: the compiled CLI in a child process, against the real engine. */
describe('redis CLI against the Docker engine', () => {
  const fx = new DockerFixture();
  let service: string;
  let port: number;
  let env: Record<string, string | undefined>;
  const redis = (...args: string[]) =>
    run(process.execPath, [CLI, ...args, '--service', service, '--config-dir', fx.configDir], env);

  beforeAll(async () => {
    await fx.setUp();
    // What `npm run redis` runs first; incremental, so cheap when nothing changed.
    const build = await run(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'libs/infra-docker/tsconfig.lib.json'],
      process.env,
      120_000,
    );
    if (build.code !== 0) throw new Error(`tsc -b failed:\n${build.stdout}${build.stderr}`);
    service = fx.service('cli');
    port = await freePort();
    env = { ...process.env, DOCKER_HOST: undefined, LLM_CACHE_REDIS_CONFIG_DIR: undefined, NO_COLOR: '1' };
  }, 180_000);

  afterAll(() => fx.tearDown(), 60_000);

  it('status of an unknown service: "missing", exit 3', async () => {
    const { code, stdout } = await redis('status');
    expect(stdout).toBe(
      `redis-${service}: missing (no such container; \`redis up --service ${service}\` creates it)\n`,
    );
    expect(code).toBe(3);
  });

  it('up: shows progress, waits until healthy, prints the URL, exit 0; again: "already running"', async () => {
    const up = await redis(
      'up',
      '--image',
      fx.image,
      '--network',
      'host',
      '--port',
      String(port),
      '--memory-limit',
      '256mb',
    );
    expect(up.stderr).toMatch(/› creating redis-.* from llm-cache\/redis-test:7/);
    expect(up.stderr).toMatch(/› waiting for redis-.* to answer PING/);
    expect(up.stdout).toBe(
      `redis-${service} is up and healthy (created)\n  connection  redis://127.0.0.1:${port}\n`,
    );
    expect(up.code).toBe(0);
    const again = await redis('up', '--image', fx.image, '--network', 'host', '--port', String(port));
    expect(again.stdout).toMatch(/is up and healthy \(already running\)/);
    expect(again.code).toBe(0);
    const client = await fx.connect(`redis://127.0.0.1:${port}`);
    expect(await client.ping()).toBe('PONG');
  });

  it('status: running (healthy) with uptime, memory and URL, exit 0; --json for scripts', async () => {
    const status = await redis('status');
    expect(status.stdout).toMatch(new RegExp(`^redis-${service}: running \\(healthy\\)\\n`));
    expect(status.stdout).toMatch(/^ {2}memory {6}[\d.]+ (KiB|MiB) \/ 256 MiB$/m);
    expect(status.stdout).toMatch(new RegExp(`^ {2}connection {2}redis://127\\.0\\.0\\.1:${port}$`, 'm'));
    expect(status.code).toBe(0);
    const json = JSON.parse((await redis('status', '--json')).stdout);
    expect(json).toMatchObject({
      status: 'running',
      health: 'healthy',
      memory: { limitBytes: 256 * 1024 ** 2 },
    });
  });

  it('config set changes the running server, masks the new password, and config show reflects it', async () => {
    const set = await redis('config', 'set', 'maxmemory=32mb', 'requirepass=cli-password-0123456789');
    expect(set.stdout).toMatch(/applied live: maxmemory, password/);
    expect(set.stdout).toContain(`connection  redis://:****@127.0.0.1:${port}`);
    expect(set.code).toBe(0);
    const client = await fx.connect(`redis://:cli-password-0123456789@127.0.0.1:${port}`);
    expect(await client.config('GET', 'maxmemory')).toEqual(['maxmemory', String(32 * 1024 ** 2)]);

    const show = await redis('config', 'show');
    expect(show.stdout).toMatch(/^maxmemory 32mb$/m);
    expect(show.stdout).not.toContain('cli-password');
    const validate = await redis('config', 'validate');
    expect(validate.stdout).toMatch(/redis\.conf: valid \(also loaded by redis-server\)/);
    expect(validate.code).toBe(0);
  });

  it('config set with an invalid value: the reason, exit 1, nothing changed', async () => {
    const bad = await redis('config', 'set', 'maxmemory-policy=lru');
    expect(bad.stderr).toMatch(/maxmemory-policy: "lru" is not one of noeviction, allkeys-lru/);
    expect(bad.code).toBe(1);
  });

  it('stop: graceful, status "stopped" exits 3; down removes it and keeps the data unless --volumes', async () => {
    const stop = await redis('stop');
    expect(stop.stdout).toBe(`redis-${service} stopped (exit code 0)\n`);
    const stopped = await redis('status');
    expect(stopped.stdout).toMatch(/: stopped\n/);
    expect(stopped.code).toBe(3);

    const down = await redis('down');
    expect(down.stdout).toMatch(/removed\n {2}data volume and config kept/);
    expect(down.code).toBe(0);
    expect((await redis('status')).stdout).toMatch(/: missing/);
    await expect(fx.docker.getVolume(`redis-${service}-data`).inspect()).resolves.toBeTruthy();

    const purge = await redis('down', '--volumes');
    expect(purge.stdout).toMatch(/did not exist\n {2}data volume deleted, stored config deleted/);
    await expect(fx.docker.getVolume(`redis-${service}-data`).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('an unreachable engine: exit 4 and where it looked', async () => {
    const offline = await run(process.execPath, [CLI, 'status', '--service', service], {
      ...env,
      DOCKER_HOST: `unix://${join(fx.configDir, 'nothing.sock')}`,
    });
    expect(offline.stderr).toMatch(/error: Cannot reach the Docker engine at unix:\/\/.*nothing\.sock/);
    expect(offline.code).toBe(4);
  });
});
