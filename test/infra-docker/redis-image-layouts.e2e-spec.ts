import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ensureRedisTestImage, type RedisImageLayout } from '../harness/redis-image.js';
import { DockerFixture, freePort } from './docker-fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'libs', 'infra-docker', 'dist', 'cli.js');

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/**
 * `npm run redis -- up --image X` for the three ways images start Redis. Before the command was fitted to the
 * image, an `ENTRYPOINT ["redis-server"]` image ran `redis-server redis-server <conf>` and never became healthy.
 */
describe('redis CLI `up --image` with any Redis image layout', () => {
  const fx = new DockerFixture();
  const env = {
    ...process.env,
    DOCKER_HOST: undefined,
    LLM_CACHE_REDIS_CONFIG_DIR: undefined,
    NO_COLOR: '1',
  };

  beforeAll(async () => {
    await fx.setUp();
    const build = await run(
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'libs/infra-docker/tsconfig.lib.json'],
      process.env,
    );
    if (build.code !== 0) throw new Error(`tsc -b failed:\n${build.stdout}${build.stderr}`);
  }, 180_000);

  afterAll(() => fx.tearDown(), 60_000);

  it.each<[RedisImageLayout, string[]]>([
    ['cmd', ['redis-server', '/usr/local/etc/redis/redis.conf']],
    ['entrypoint', ['/usr/local/etc/redis/redis.conf']],
    ['wrapper', ['redis-server', '/usr/local/etc/redis/redis.conf']],
  ])(
    'layout "%s": the container runs our redis.conf, becomes healthy and answers on our port',
    async (layout, expectedCmd) => {
      const image = await ensureRedisTestImage(fx.docker, layout);
      const service = fx.service(`img-${layout}`);
      const port = await freePort();
      const up = await run(
        [
          CLI,
          'up',
          '--image',
          image,
          '--network',
          'host',
          '--port',
          String(port),
          '--service',
          service,
        ].concat(['--config-dir', fx.configDir]),
        env,
      );
      expect(up.stderr).not.toMatch(/error/i);
      expect(up.stdout).toContain(`redis-${service} is up and healthy (created)`);
      expect(up.code).toBe(0);

      const info = await fx.inspect(service);
      expect(info.Config.Cmd).toEqual(expectedCmd);
      const client = await fx.connect(`redis://127.0.0.1:${port}`);
      expect(await client.ping()).toBe('PONG');
      // The port comes from our config file, so the server really read it.
      expect(await client.config('GET', 'port')).toEqual(['port', String(port)]);
      // The wrapper ran (it appends --hz 17); the other layouts keep Redis's default.
      expect(await client.config('GET', 'hz')).toEqual(['hz', layout === 'wrapper' ? '17' : '10']);
    },
    150_000,
  );
});
