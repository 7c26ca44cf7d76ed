import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { EXIT, describeStatus, runInfraDockerCli } from './infra-docker.cli.js';

const dir = mkdtempSync(join(tmpdir(), 'llm-cache-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in-process against an engine socket that does not exist: nothing here reaches Docker. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runInfraDockerCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: {
      DOCKER_HOST: `unix://${join(dir, 'no-engine.sock')}`,
      LLM_CACHE_REDIS_CONFIG_DIR: join(dir, 'config'),
    },
  });
  return { code, stdout, stderr };
}

describe('redis CLI', () => {
  it('prints help with exit 0, and usage with exit 2 when there is no command', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(EXIT.ok);
    expect(help.stdout).toMatch(/Usage: npm run redis -- <command>/);
    expect(help.stdout).toMatch(/Exit codes: 0 ok · 1 failed · 2 usage error/);
    expect((await cli()).code).toBe(EXIT.usage);
  });

  it.each([
    [['launch'], /unknown command "launch"/],
    [['up', '--colour'], /Unknown option '--colour'/],
    [['up', '--port', 'abc'], /--port: "abc" is not a whole number from 1 to 65535/],
    [['up', '--memory-limit', 'lots'], /--memory-limit: "lots" is not a size/],
    [['up', '--profile', 'staging'], /--profile: "staging" is not development or production/],
    [['config'], /unknown config command ""/],
    [['config', 'set'], /config set needs key=value pairs/],
    [['config', 'set', 'maxmemory'], /expected key=value, got "maxmemory"/],
    [['config', 'set', 'bind=0.0.0.0'], /cannot set "bind"; settable: maxmemory, maxmemory-policy/],
    [['config', 'set', 'appendonly=maybe'], /appendonly: "maybe" is not yes or no/],
    [['config', 'set', 'save=900'], /save: expected "<seconds> <changes> …" pairs/],
  ])('exits 2 with a clear message for %j', async (argv, message) => {
    const { code, stderr } = await cli(...argv);
    expect(code).toBe(EXIT.usage);
    expect(stderr).toMatch(message);
  });

  it('exits 4 when the Docker engine is unreachable, saying where it looked', async () => {
    for (const command of [['up'], ['status'], ['down'], ['stop']]) {
      const { code, stderr } = await cli(...command, '--service', 'x');
      expect(code).toBe(EXIT.engineUnreachable);
      expect(stderr).toMatch(/error: Cannot reach the Docker engine at unix:\/\/.*no-engine\.sock/);
    }
  });

  it('shows the config `up` would generate for a new service, without touching Docker', async () => {
    const { code, stdout, stderr } = await cli(
      'config',
      'show',
      '--service',
      'fresh',
      '--profile',
      'production',
    );
    expect(code).toBe(EXIT.ok);
    expect(stderr).toMatch(/redis-fresh does not exist yet/);
    expect(stdout).toMatch(/^maxmemory-policy allkeys-lfu$/m);
    expect(stdout).toMatch(
      /^user default on #[0-9a-f]{64} ~\* &\* \+@all -flushall -flushdb -keys -debug -config$/m,
    );
  });

  it('validates a file: exit 0 when valid, 1 with the errors when not', async () => {
    const good = join(dir, 'good.conf');
    const bad = join(dir, 'bad.conf');
    writeFileSync(good, 'bind 127.0.0.1\nmaxmemory 64mb\nmaxmemory-policy allkeys-lru\n');
    writeFileSync(bad, 'bind 0.0.0.0\nmaxmemory 64 mb\n');
    const ok = await cli('config', 'validate', '--file', good);
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.stdout).toMatch(/good\.conf: valid/);
    const refused = await cli('config', 'validate', '--file', bad);
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.stdout).toMatch(/bad\.conf: INVALID/);
    expect(refused.stdout).toMatch(/error {4}line 2: maxmemory: needs exactly one value/);
    expect(refused.stdout).toMatch(/error {4}bind 0\.0\.0\.0 without a password/);
    const json = JSON.parse((await cli('config', 'validate', '--file', bad, '--json')).stdout);
    expect(json).toMatchObject({ valid: false, errors: expect.any(Array), warnings: expect.any(Array) });
  });

  it('says so when a service to update does not exist', async () => {
    const { code, stderr } = await cli('config', 'set', 'maxmemory=1mb', '--service', 'ghost');
    expect(code).toBe(EXIT.failed);
    expect(stderr).toMatch(/No Redis service "ghost" is known here/);
  });

  it('describes a status for people', () => {
    const text = describeStatus({
      service: 's',
      containerName: 'redis-s',
      status: 'running',
      health: 'healthy',
      connectionUrl: 'redis://:****@127.0.0.1:6379',
      image: 'redis:7-alpine',
      uptimeMs: 3_723_000,
      memory: { usageBytes: 3.3 * 1024 ** 2, limitBytes: 512 * 1024 ** 2 },
    });
    expect(text).toBe(
      'redis-s: running (healthy)\n  image       redis:7-alpine\n  uptime      1h 2m 3s\n  memory      3.3 MiB / 512 MiB\n  connection  redis://:****@127.0.0.1:6379\n',
    );
  });
});
