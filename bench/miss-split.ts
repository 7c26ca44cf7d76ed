/**
 * `npm run bench:miss-split [-- --rounds 4 --per-round 50]`: where a miss's time goes, step by step, in a real app
 * process (bench/server/bench-server.ts with bench/server/miss-split.probe.ts preloaded) against a real
 * redis-server and the fake upstream (20 ms). Interleaved rounds of three variants, one request in flight:
 *   miss      — a unique message through the app (lookup, lock script, upstream, store script sent)
 *   missAwait — the same with `awaitStore: true` (the request waits for the store's reply: the miss as it was)
 *   bypass  — the same route with `Cache-Control: no-store` (no Redis at all, same provider and SDK path)
 *   direct  — the same request straight to the upstream (no app)
 * Prints client p50s, the cache's own overhead (miss − bypass) and the app's (bypass − direct), each step's median
 * inside the app, and the app's CPU per request. Everything talks to 127.0.0.1 only; loops are bounded.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, RedisServer } from '../test/harness/redis-server.js';
import { closeAgent, getJson, runClosedLoop, type HttpTarget } from './lib/http.js';
import { spawnNode, stopChild, waitForHttp } from './lib/processes.js';
import { median, round, summarize } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 4);
const PER_ROUND = arg('per-round', 50);
const WARMUP = arg('warmup', 60);
const UPSTREAM_LATENCY_MS = 20;
const ALL_VARIANTS = ['miss', 'missAwait', 'bypass', 'direct'] as const;
type Variant = (typeof ALL_VARIANTS)[number];
/** `--only miss` (or `bypass`): one variant alone, e.g. for a CPU profile of it (`NODE_OPTIONS=--cpu-prof`). */
const only = process.argv.indexOf('--only');
const VARIANTS: readonly Variant[] =
  only >= 0 ? ALL_VARIANTS.filter((v) => v === process.argv[only + 1]) : ALL_VARIANTS;

/** The probe's steps that run inside `cacheCall`, one after the other (their own sub-steps left out). */
const CACHE_CALL_STEPS = ['lookup', 'lockScript', 'upstreamCall', 'entryCreate', 'storeSend', 'accounting'];

interface Split {
  records: Array<Record<string, number>>;
  cpuMs: number;
}

const body = (content: string) =>
  JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content }], temperature: 0 });

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const upstreamPort = await freePort();
  const appPort = await freePort();
  const upstream = spawnNode(
    join(here, '../test/harness/fake-openai-server.js'),
    ['--port', String(upstreamPort), '--latency-ms', String(UPSTREAM_LATENCY_MS)],
    {},
  );
  const probe = pathToFileURL(join(here, 'server/miss-split.probe.js')).href;
  const app = spawnNode(join(here, 'server/bench-server.js'), [], {
    PORT: String(appPort),
    REDIS_URL: redis.url,
    LLM_PROVIDER: 'openai',
    LLM_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
    LLM_API_KEY: 'bench-key',
    LLM_MODEL: 'fake-model',
    ADMIN_TOKEN: 'bench-admin-token-local',
    AUTH_MODE: 'open',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${probe}`,
  });
  try {
    await waitForHttp(upstreamPort, '/v1/models');
    await waitForHttp(appPort, '/health/live');
    const run = Date.now();
    const target = (variant: Variant, i: number): HttpTarget => {
      const path = '/v1/chat/completions';
      if (variant === 'direct') return { port: upstreamPort, path, body: body(`direct ${run} ${i}`) };
      if (variant === 'bypass')
        return {
          port: appPort,
          path,
          body: body(`bypass ${run} ${i}`),
          headers: { 'cache-control': 'no-store' },
        };
      if (variant === 'missAwait')
        return {
          port: appPort,
          path,
          body: body(`missAwait ${run} ${i}`),
          headers: { 'x-miss-split-await-store': '1' },
        };
      return { port: appPort, path, body: body(`miss ${run} ${i}`) };
    };
    let n = 0;
    // Unmeasured: the first requests of a route run unoptimized code.
    for (const variant of VARIANTS) await runClosedLoop((i) => target(variant, n + i), WARMUP, 1, 60_000);
    n += WARMUP;
    await getJson<Split>(appPort, '/__miss-split');

    const latencies: Record<Variant, number[]> = { miss: [], missAwait: [], bypass: [], direct: [] };
    const records: Record<Variant, Array<Record<string, number>>> = {
      miss: [],
      missAwait: [],
      bypass: [],
      direct: [],
    };
    const cpuMs: Record<Variant, number> = { miss: 0, missAwait: 0, bypass: 0, direct: 0 };
    const errors: Record<Variant, number> = { miss: 0, missAwait: 0, bypass: 0, direct: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      for (let v = 0; v < VARIANTS.length; v++) {
        const variant = VARIANTS[(v + round) % VARIANTS.length];
        const base = n;
        const r = await runClosedLoop((i) => target(variant, base + i), PER_ROUND, 1, 60_000);
        n += PER_ROUND;
        latencies[variant].push(...r.latenciesMs);
        errors[variant] += r.errors;
        const split = await getJson<Split>(appPort, '/__miss-split');
        records[variant].push(...split.records);
        cpuMs[variant] += split.cpuMs;
      }
    }

    const out: Record<string, unknown> = { rounds: ROUNDS, perRound: PER_ROUND };
    log(
      `${ROUNDS} rounds × ${PER_ROUND} requests per variant, one in flight, upstream ${UPSTREAM_LATENCY_MS} ms`,
    );
    const p50: Record<string, number> = {};
    for (const variant of VARIANTS) {
      const s = summarize(latencies[variant]);
      p50[variant] = s.p50Ms;
      const cpu = records[variant].length ? round(cpuMs[variant] / records[variant].length, 2) : NaN;
      out[variant] = { client: s, errors: errors[variant], cpuMsPerRequest: cpu };
      log(
        `${variant.padEnd(9)} client p50 ${s.p50Ms} ms  p90 ${s.p90Ms}  p99 ${s.p99Ms}  errors ${errors[variant]}` +
          (variant === 'direct' ? '' : `  app CPU ${cpu} ms/req`),
      );
    }
    log(`cache overhead (miss − bypass) p50: +${round(p50.miss - p50.bypass)} ms`);
    log(`cache overhead, store awaited (missAwait − bypass) p50: +${round(p50.missAwait - p50.bypass)} ms`);
    log(`app hop + SDK (bypass − direct) p50: +${round(p50.bypass - p50.direct)} ms`);
    log(`miss vs direct p50: +${round(p50.miss - p50.direct)} ms`);
    for (const variant of VARIANTS.filter((v) => v !== 'direct')) {
      const steps = new Set(records[variant].flatMap((r) => Object.keys(r)));
      const medians: Record<string, number> = {};
      for (const step of steps) {
        medians[step] = round(median(records[variant].map((r) => r[step] ?? 0)), 3);
      }
      // What the cached call spends outside its named steps (awaits, the coordinator, timers), per request.
      medians.cacheCallOther = round(
        median(
          records[variant].map(
            (r) => (r.cacheCall ?? 0) - CACHE_CALL_STEPS.reduce((sum, step) => sum + (r[step] ?? 0), 0),
          ),
        ),
        3,
      );
      out[`${variant}Steps`] = medians;
      log(`${variant} steps, median ms: ${JSON.stringify(medians)}`);
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await stopChild(app);
    await stopChild(upstream);
    await redis.stop();
    closeAgent();
  }
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`miss-split: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
