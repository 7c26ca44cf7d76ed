/**
 * The packages tried from outside, as a new user would: the three libs are packed (`npm pack`), each example in
 * examples/ is copied to a temporary directory outside the workspace, installs only the tarballs plus registry
 * packages (no path aliases, no workspace links), is type-checked with its own tsconfig against the packages' .d.ts,
 * built, booted as its own process and exercised over HTTP against a real Redis, which is then killed.
 *  - examples/nest-app on Express and on Fastify: its own provider, @CacheLlmResponse(), RedisHealthIndicator,
 *    configuration through @nestjs/config (RedisCacheModule.forRootAsync with ConfigService).
 *  - examples/redis-cache-only: @llm-cache/redis-cache alone, none of its optional peers installed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort, RedisServer } from '../harness/redis-server.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const NODE_BIN = resolve(process.execPath, '..');
// npm and the examples' scripts run on this process's Node (24), like the repo's own npm scripts.
const env = { ...process.env, PATH: `${NODE_BIN}:${process.env.PATH ?? ''}` };
const SETUP_TIMEOUT_MS = 280_000;

let work: string;
const tarballs: Record<string, string> = {};

async function sh(cmd: string, args: string[], cwd: string): Promise<void> {
  try {
    await run(cmd, args, { cwd, env, maxBuffer: 32 * 1024 * 1024 });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

/** Copies an example out of the workspace, points its @llm-cache/* dependencies at the tarballs, installs, builds. */
async function prepare(example: string): Promise<string> {
  const dir = join(work, example);
  await cp(join(ROOT, 'examples', example), dir, {
    recursive: true,
    filter: (src) => !/node_modules|dist/.test(src.slice(ROOT.length)),
  });
  const manifestPath = join(dir, 'package.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const name of Object.keys(manifest.dependencies)) {
    if (name.startsWith('@llm-cache/')) manifest.dependencies[name] = `file:${tarballs[name]}`;
  }
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
  // --prefer-offline: the registry versions are those of this repo's lockfile, already in npm's cache.
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], dir);
  // The example's own TypeScript and tsconfig: it sees the packages only through node_modules and their .d.ts.
  await sh(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], dir);
  return dir;
}

interface App {
  url: string;
  proc: ChildProcess;
  output: () => string;
}

async function boot(dir: string, extraEnv: Record<string, string>): Promise<App> {
  const port = await freePort();
  let out = '';
  const proc = spawn(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env: { ...env, ...extraEnv, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (!out.includes('listening on')) {
    if (proc.exitCode !== null) throw new Error(`example exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`example did not start in 30 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, proc, output: () => out };
}

async function stop(app: App | undefined): Promise<void> {
  if (!app || app.proc.exitCode !== null) return;
  const exited = new Promise((r) => app.proc.once('exit', r));
  app.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (app.proc.exitCode === null) app.proc.kill('SIGKILL');
}

function chat(url: string, content: string, stream = false): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'echo-1', temperature: 0, stream, messages: [{ role: 'user', content }] }),
    signal: AbortSignal.timeout(10_000),
  });
}

function sseContent(body: string): string {
  return body
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
    .map((line) => JSON.parse(line.slice(6)) as { choices: Array<{ delta: { content?: string } }> })
    .map((chunk) => chunk.choices[0]?.delta.content ?? '')
    .join('');
}

let nestApp: string;
let cacheOnly: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'llm-cache-outside-'));
  // The workspace must not be an ancestor: then Node could not fall back to its node_modules.
  expect(work.startsWith(ROOT)).toBe(false);
  await sh(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-b',
      'libs/llm/tsconfig.lib.json',
      'libs/infra-docker/tsconfig.lib.json',
    ],
    ROOT,
  );
  const packed = join(work, 'tarballs');
  await mkdir(packed);
  await sh(
    'npm',
    [
      'pack',
      '--silent',
      '--pack-destination',
      packed,
      '--workspace',
      '@llm-cache/redis-cache',
      '--workspace',
      '@llm-cache/llm',
      '--workspace',
      '@llm-cache/infra-docker',
    ],
    ROOT,
  );
  for (const file of await readdir(packed)) {
    const name = file.replace(/^llm-cache-(.*)-\d+\.\d+\.\d+.*\.tgz$/, '@llm-cache/$1');
    tarballs[name] = join(packed, file);
  }
  expect(Object.keys(tarballs).sort()).toEqual([
    '@llm-cache/infra-docker',
    '@llm-cache/llm',
    '@llm-cache/redis-cache',
  ]);
  [nestApp, cacheOnly] = await Promise.all([prepare('nest-app'), prepare('redis-cache-only')]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.each(['express', 'fastify'])('examples/nest-app from the tarballs on %s', (platform) => {
  let redis: RedisServer;
  let app: App | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = await boot(nestApp, { PLATFORM: platform, REDIS_URL: redis.url, CACHE_PREFIX: `ex-${platform}` });
  }, 60_000);

  afterAll(async () => {
    await stop(app);
    await redis?.stop();
  });

  it('installed the packages from the tarballs, not from the workspace', async () => {
    const manifest = JSON.parse(
      await readFile(join(nestApp, 'node_modules/@llm-cache/llm/package.json'), 'utf8'),
    ) as { version: string; exports: Record<string, { types: string }> };
    expect(manifest.exports['.'].types).toBe('./dist/index.d.ts');
    expect(existsSync(join(nestApp, 'node_modules/@llm-cache/llm/dist/index.d.ts'))).toBe(true);
    expect(existsSync(join(nestApp, 'node_modules/@llm-cache/llm/src/llm-cache.service.spec.ts'))).toBe(
      false,
    );
  });

  it('answers a miss, then a hit from Redis without calling the provider again', async () => {
    const first = await chat(app!.url, `hello ${platform}`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const body = (await first.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0].message.content).toBe(`echo: ${[...`hello ${platform}`].reverse().join('')}`);
    const calls = ((await (await fetch(`${app!.url}/provider-calls`)).json()) as { calls: number }).calls;

    const second = await chat(app!.url, `hello ${platform}`);
    expect(second.status).toBe(200);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.headers.get('cache-status')).toMatch(/^llm-cache; hit/);
    expect(await second.json()).toEqual(body);
    expect(((await (await fetch(`${app!.url}/provider-calls`)).json()) as { calls: number }).calls).toBe(
      calls,
    );
  });

  it('streams a miss, then replays it as a streamed hit', async () => {
    const miss = await chat(app!.url, `stream on ${platform}`, true);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const missText = await miss.text();
    expect(missText.trimEnd().endsWith('data: [DONE]')).toBe(true);

    const hit = await chat(app!.url, `stream on ${platform}`, true);
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const hitText = await hit.text();
    expect(hitText.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(sseContent(hitText)).toBe(`echo: ${[...`stream on ${platform}`].reverse().join('')}`);
    expect(sseContent(hitText)).toBe(sseContent(missText));
  });

  it("answers a bad body with a 400 in OpenAI's error shape, without calling the provider", async () => {
    const calls = ((await (await fetch(`${app!.url}/provider-calls`)).json()) as { calls: number }).calls;
    const res = await fetch(`${app!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'echo', messages: [] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringContaining('messages'),
        type: 'invalid_request_error',
        param: 'messages',
        code: null,
      },
    });
    expect(((await (await fetch(`${app!.url}/provider-calls`)).json()) as { calls: number }).calls).toBe(
      calls,
    );
  });

  it('reports /health up with Redis', async () => {
    const res = await fetch(`${app!.url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; info: { redis: Record<string, unknown> } };
    expect(body.status).toBe('ok');
    expect(body.info.redis).toMatchObject({ status: 'up', mode: 'standalone' });
    expect(body.info.redis.degraded).toBeUndefined();
  });

  it('keeps answering with Redis killed, and /health reports degraded', async () => {
    await redis.kill();
    const res = await chat(app!.url, `after the outage on ${platform}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('MISS');
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0].message.content).toMatch(/^echo: /);

    const health = await fetch(`${app!.url}/health`);
    expect(health.status).toBe(200);
    const report = (await health.json()) as { info: { redis: Record<string, unknown> } };
    expect(report.info.redis).toMatchObject({ status: 'up', degraded: true });
    expect(app!.proc.exitCode).toBeNull();
  });
});

describe('examples/redis-cache-only from the tarball, without optional peers', () => {
  let redis: RedisServer;
  let app: App | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = await boot(cacheOnly, { REDIS_URL: redis.url });
  }, 60_000);

  afterAll(async () => {
    await stop(app);
    await redis?.stop();
  });

  it('has none of the optional peers (nor the LLM package) installed', () => {
    for (const name of [
      '@nestjs/terminus',
      '@nestjs/cache-manager',
      'cache-manager',
      'keyv',
      'nestjs-otel',
      '@opentelemetry/api',
      '@llm-cache/llm',
      'openai',
      'dockerode',
      'node',
    ]) {
      expect([name, existsSync(join(cacheOnly, 'node_modules', name))]).toEqual([name, false]);
    }
  });

  it('caches a @CacheResponse() route in Redis: miss, then hit', async () => {
    const first = await fetch(`${app!.url}/items/7`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(await first.json()).toEqual({ id: '7', computed: 1 });
    const second = await fetch(`${app!.url}/items/7`);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(await second.json()).toEqual({ id: '7', computed: 1 });
  });

  it('stores and reads through RedisCacheService', async () => {
    const put = await fetch(`${app!.url}/notes/a`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'kept in redis' }),
    });
    expect(await put.json()).toEqual({ stored: true });
    expect(await (await fetch(`${app!.url}/notes/a`)).json()).toEqual({ note: { text: 'kept in redis' } });
  });

  it('keeps answering with Redis killed (fail-open)', async () => {
    await redis.kill();
    const res = await fetch(`${app!.url}/items/8`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '8', computed: 2 });
    const put = await fetch(`${app!.url}/notes/b`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'lost' }),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ stored: false });
    expect(app!.proc.exitCode).toBeNull();
  });
});
