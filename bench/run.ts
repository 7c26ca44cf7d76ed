/**
 * `npm run bench [-- --quick]`: measures the LLM cache side by side with a bare endpoint of the same app and with
 * @nestjs/cache-manager's CacheInterceptor on @keyv/redis, on one machine, in one run, interleaved. Prints a table,
 * writes bench/results/<date>.json and bench/results/hit-latency.svg.
 *
 * Process layout: this process (load generator) · one or two app processes at a time (bench/server/bench-server.ts:
 * the chatbot's AppModule plus the bare and peer routes; on Express, and for the hit rows also on Fastify) · one fake
 * OpenAI-compatible upstream process · redis-server.
 * Every request goes to 127.0.0.1; every loop is bounded in count and time.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { freePort, RedisServer } from '../test/harness/redis-server.js';
import { closeAgent, getJson, runClosedLoop, timedRequest, type HttpTarget } from './lib/http.js';
import { spawnNode, stopChild, waitForHttp } from './lib/processes.js';
import { median, ratio, round, summarize, type LatencySummary } from './lib/stats.js';
import { latencyCdfSvg } from './lib/svg.js';
import { benchSoak, soakMsFromArgs, soakSummary } from './soak.js';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const soakMs = soakMsFromArgs(process.argv, quick);
/** Results go to the source tree's bench/results, not next to the compiled file. */
const resultsDir = join(process.cwd(), 'bench', 'results');

const S = quick
  ? {
      hitSeconds: 2,
      warmupSeconds: 1,
      rounds: 2,
      connections: 16,
      latencySamples: 300,
      streamSamples: 100,
      missSamples: 40,
      outage: 60,
      onsetCycles: 3,
      rtHits: 100,
    }
  : {
      hitSeconds: 8,
      warmupSeconds: 3,
      rounds: 3,
      connections: 16,
      latencySamples: 3000,
      streamSamples: 1000,
      missSamples: 300,
      outage: 400,
      onsetCycles: 10,
      rtHits: 1000,
    };
const UPSTREAM_LATENCY_MS = 20;
const STAMPEDE_UPSTREAM_DELAY_MS = 300;
/** Production config wants admin secrets of ≥ 16 characters. */
const ADMIN_TOKEN = 'bench-admin-token-local';

interface App {
  port: number;
  child: ReturnType<typeof spawnNode>;
}

const completionBody = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content }], temperature: 0, ...extra });

async function main(): Promise<void> {
  const started = Date.now();
  const redis = await RedisServer.start();
  const upstreamPort = await freePort();
  const upstream = spawnNode(
    join(here, '../test/harness/fake-openai-server.js'),
    ['--port', String(upstreamPort), '--latency-ms', String(UPSTREAM_LATENCY_MS)],
    {},
  );
  const apps: App[] = [];
  const startApp = async (extraEnv: Record<string, string> = {}): Promise<App> => {
    const port = await freePort();
    const child = spawnNode(join(here, 'server/bench-server.js'), [], {
      PORT: String(port),
      REDIS_URL: redis.url,
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
      LLM_API_KEY: 'bench-key',
      LLM_MODEL: 'fake-model',
      ADMIN_TOKEN,
      // One tenant, no API key: the bare and peer routes have none either.
      AUTH_MODE: 'open',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      // Express unless a caller asks otherwise, whatever the environment says (the hit bench verifies it).
      HTTP_PLATFORM: 'express',
      ...extraEnv,
    });
    await waitForHttp(port, '/health/live');
    const app = { port, child };
    apps.push(app);
    return app;
  };

  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    node: process.version,
    settings: { ...S, upstreamLatencyMs: UPSTREAM_LATENCY_MS },
  };
  try {
    await waitForHttp(upstreamPort, '/v1/models');
    const app = await startApp();
    // The same app on Fastify, side by side (same Redis, same upstream), for the hit rows only.
    const fastifyApp = await startApp({ HTTP_PLATFORM: 'fastify' });
    log(
      `redis ${redis.url} · upstream :${upstreamPort} · app :${app.port} · fastify app :${fastifyApp.port}`,
    );

    results.hits = await benchHits(hitPlatforms(app, fastifyApp));
    await stopChild(fastifyApp.child);
    apps.splice(apps.indexOf(fastifyApp), 1);
    // The same app with the fixed 50 ms command timeout, for the false-timeout A/B (idle otherwise).
    const fixed = await startApp({ REDIS_ADAPTIVE_TIMEOUT: 'false' });
    results.falseTimeouts = await benchFalseTimeouts(app, fixed);
    await stopChild(fixed.child);
    apps.splice(apps.indexOf(fixed), 1);
    results.streamReplay = await benchStreamReplay(app);
    results.missOverhead = await benchMissOverhead(app, upstreamPort);
    results.redisCost = await benchRedisCost(app, redis);
    const second = await startApp();
    results.stampede = await benchStampede([app, second], upstreamPort);
    results.outage = await benchOutage(app, redis);
    if (soakMs > 0)
      results.soak = await benchSoak(
        startApp,
        async (a) => {
          await stopChild(a.child);
          apps.splice(apps.indexOf(a as App), 1);
        },
        soakMs,
        log,
      );
  } finally {
    await Promise.all(apps.map((a) => stopChild(a.child)));
    await stopChild(upstream);
    await redis.stop();
    closeAgent();
  }
  results.elapsedSeconds = round((Date.now() - started) / 1000, 1);

  mkdirSync(resultsDir, { recursive: true });
  const day = new Date().toISOString().slice(0, 10);
  const file = join(resultsDir, `${day}${quick ? '-quick' : ''}.json`);
  const { hitSamples, ...serializable } = results as Record<string, unknown> & { hitSamples?: never };
  void hitSamples;
  writeFileSync(file, JSON.stringify(serializable, null, 2) + '\n');
  printTable(results);
  log(
    `wrote ${file} and ${join(resultsDir, quick ? 'hit-latency-quick.svg' : 'hit-latency.svg')} in ${results.elapsedSeconds} s`,
  );
}

const HIT_VARIANTS = ['ours', 'bare', 'peer'] as const;
type HitVariant = (typeof HIT_VARIANTS)[number];
type HttpPlatform = 'express' | 'fastify';

/** The two hit routes, each as ours / bare / peer, with one fixed request body (warm cache). */
const HIT_ROUTES = {
  completions: {
    paths: {
      ours: '/v1/chat/completions',
      bare: '/bench/bare/v1/chat/completions',
      peer: '/bench/peer/v1/chat/completions',
    },
    body: completionBody('bench hit'),
    templateKey: 'completion',
  },
  chat: {
    paths: { ours: '/chat', bare: '/bench/bare/chat', peer: '/bench/peer/chat' },
    body: JSON.stringify({ message: 'bench hit chat', temperature: 0 }),
    templateKey: 'chat',
  },
} satisfies Record<string, { paths: Record<HitVariant, string>; body: string; templateKey: string }>;
type HitRoute = keyof typeof HIT_ROUTES;

/** One app process per HTTP platform, benched side by side; `rounds` × `hitSeconds` of load per variant. */
interface HitPlatform {
  platform: HttpPlatform;
  app: App;
  rounds: number;
  hitSeconds: number;
}

/**
 * Express is the reference platform (every other section runs on it). In quick mode (CI) Fastify's rounds are 1 s
 * long, so the second platform adds ~20 s to the run instead of ~35 s; its ratios still come from its own three
 * variants measured in the same rounds.
 */
function hitPlatforms(express: App, fastify: App): HitPlatform[] {
  return [
    { platform: 'express', app: express, rounds: S.rounds, hitSeconds: S.hitSeconds },
    { platform: 'fastify', app: fastify, rounds: S.rounds, hitSeconds: quick ? 1 : S.hitSeconds },
  ];
}

const hitTarget = (p: HitPlatform, route: HitRoute, variant: HitVariant): HttpTarget => ({
  port: p.app.port,
  path: HIT_ROUTES[route].paths[variant],
  body: HIT_ROUTES[route].body,
});

/**
 * Before any load: proves the process runs on the platform its numbers will be labelled with, that ours and the peer
 * answer real cache hits, and that bare returns ours' exact bytes. Throws (the run fails) on any mismatch.
 *
 * Two witnesses for the platform: the adapter instance's own `getType()` (`GET /bench/platform`, bench-only), and
 * one on the wire from every measured route — Express's `res.send` adds a weak `ETag` to each body it sends, Fastify
 * core never does.
 */
async function verifyHitPlatform(p: HitPlatform) {
  const fail = (what: string): never => {
    throw new Error(`hit bench on ${p.platform} (app :${p.app.port}): ${what}`);
  };
  const probe = await timedRequest({ port: p.app.port, path: '/bench/platform', method: 'GET' });
  const adapter = probe.status === 200 ? (JSON.parse(probe.body) as { adapter?: string }).adapter : undefined;
  if (adapter !== p.platform)
    fail(`GET /bench/platform says ${probe.status} ${probe.body}, expected adapter "${p.platform}"`);
  const template: Record<string, unknown> = {};
  const oursBodies: Record<string, string> = {};
  // What was seen on the wire, kept in the results as the evidence for the platform label.
  const observed: Record<string, Record<string, { xCache: string | null; etag: boolean }>> = {};
  for (const route of Object.keys(HIT_ROUTES) as HitRoute[]) {
    for (const variant of HIT_VARIANTS) {
      await timedRequest(hitTarget(p, route, variant)); // fills ours' and the peer's cache
      const r = await timedRequest(hitTarget(p, route, variant));
      const where = `${variant} ${HIT_ROUTES[route].paths[variant]}`;
      if (r.status !== 200) fail(`${where} answered ${r.status}: ${r.body.slice(0, 200)}`);
      // bare has no cache, so no X-Cache; ours and the peer must serve the second request from Redis.
      if (variant !== 'bare' && r.headers['x-cache'] !== 'HIT')
        fail(`${where} is not a cache hit after warm-up (X-Cache: ${String(r.headers['x-cache'])})`);
      if ('etag' in r.headers !== (p.platform === 'express'))
        fail(
          `${where}: ETag ${r.headers.etag ? 'present' : 'absent'}, which is not ${p.platform}'s behaviour`,
        );
      (observed[route] ??= {})[variant] = {
        xCache: (r.headers['x-cache'] as string | undefined) ?? null,
        etag: 'etag' in r.headers,
      };
      if (variant === 'ours') {
        oursBodies[route] = r.body;
        template[HIT_ROUTES[route].templateKey] = JSON.parse(r.body);
      }
    }
  }
  // Give the bare routes the exact bodies ours return (same size on the wire), and check that they do.
  const put = await timedRequest({
    port: p.app.port,
    path: '/bench/bare/template',
    method: 'PUT',
    body: JSON.stringify(template),
  });
  if (put.status !== 204) fail(`PUT /bench/bare/template answered ${put.status}`);
  for (const route of Object.keys(HIT_ROUTES) as HitRoute[]) {
    const bare = await timedRequest(hitTarget(p, route, 'bare'));
    if (bare.body !== oursBodies[route]) fail(`bare ${route} does not return ours' bytes`);
  }
  return { adapter, bareBytesEqualOurs: true, afterWarmUp: observed };
}

/**
 * 1. Hit throughput (autocannon) and hit latency (closed loop, one in flight) — ours vs bare vs peer, on Express and
 * on Fastify (one app process each, same Redis and upstream), interleaved: every round runs each platform's three
 * variants, the platform order alternating and the variant order rotating round by round.
 */
async function benchHits(platforms: HitPlatform[]) {
  const checks: Record<string, unknown> = {};
  for (const p of platforms) checks[p.platform] = await verifyHitPlatform(p);
  log(
    `hits: ${platforms.map((p) => `${p.platform} :${p.app.port}`).join(', ')} verified (adapter, X-Cache: HIT)`,
  );

  type Summary = Record<
    HitVariant,
    { reqPerSec: number; cpuUsPerRequest: number; latency: LatencySummary; errors: number }
  >;
  const out: Record<string, Record<string, unknown>> = {};
  const summaries: Record<string, Partial<Record<HitRoute, Summary>>> = {};
  const samplesForPlot: Record<string, Record<HitVariant, number[]>> = {};
  for (const p of platforms) {
    out[p.platform] = {
      platform: p.platform,
      check: checks[p.platform],
      rounds: p.rounds,
      hitSeconds: p.hitSeconds,
      warmupSeconds: S.warmupSeconds,
      connections: S.connections,
    };
    summaries[p.platform] = {};
  }
  const load = (t: HttpTarget, seconds: number) =>
    autocannon({
      url: `http://127.0.0.1:${t.port}${t.path}`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: t.body,
      connections: S.connections,
      // Duration, not an amount: autocannon stops on its 1 s sampling tick, so an amount-bounded run's length
      // is quantized to whole seconds and its req/s meaningless.
      duration: seconds,
      timeout: 10,
    });

  for (const route of Object.keys(HIT_ROUTES) as HitRoute[]) {
    const empty = () => ({ ours: [], bare: [], peer: [] }) as Record<HitVariant, number[]>;
    const m = Object.fromEntries(
      platforms.map((p) => [
        p.platform,
        { rps: empty(), cpuUs: empty(), lat: empty(), errors: { ours: 0, bare: 0, peer: 0 } },
      ]),
    );
    // Unmeasured warm-up of every variant: the first seconds of a route run unoptimized code (JIT), which would
    // otherwise penalize whichever variant happens to run first.
    for (const p of platforms)
      for (const v of HIT_VARIANTS) await load(hitTarget(p, route, v), S.warmupSeconds);
    const rounds = Math.max(...platforms.map((p) => p.rounds));
    for (let round = 0; round < rounds; round++) {
      // Alternate the platforms and rotate the variants every round, so none always runs first (or last) on a
      // noisy machine.
      for (const p of round % 2 ? [...platforms].reverse() : platforms) {
        if (round >= p.rounds) continue;
        const acc = m[p.platform];
        for (const variant of HIT_VARIANTS.map((_, i, a) => a[(i + round) % a.length])) {
          const t = hitTarget(p, route, variant);
          const cpuBefore = processCpuSeconds(p.app.child.pid);
          const r = await load(t, p.hitSeconds);
          acc.rps[variant].push(r.requests.total / p.hitSeconds);
          acc.cpuUs[variant].push(
            ((processCpuSeconds(p.app.child.pid) - cpuBefore) * 1e6) / r.requests.total,
          );
          acc.errors[variant] += r.errors + r.non2xx + r.timeouts;
          const loop = await runClosedLoop(() => t, Math.ceil(S.latencySamples / p.rounds), 1, 60_000);
          acc.lat[variant].push(...loop.latenciesMs);
          acc.errors[variant] += loop.errors;
        }
      }
    }
    for (const p of platforms) {
      const acc = m[p.platform];
      const summary = Object.fromEntries(
        HIT_VARIANTS.map((v) => [
          v,
          {
            reqPerSec: round(median(acc.rps[v]), 0),
            rounds: acc.rps[v].map((x) => round(x, 0)),
            cpuUsPerRequest: round(median(acc.cpuUs[v]), 0),
            cpuRounds: acc.cpuUs[v].map((x) => round(x, 0)),
            latency: summarize(acc.lat[v]),
            errors: acc.errors[v],
          },
        ]),
      ) as unknown as Summary;
      summaries[p.platform][route] = summary;
      out[p.platform][route] = {
        ...summary,
        oursOverBare: ratio(summary.ours.reqPerSec, summary.bare.reqPerSec),
        oursOverPeer: ratio(summary.ours.reqPerSec, summary.peer.reqPerSec),
        // Throughput per CPU second of the app process (bare's CPU per request over ours): what the ratio of req/s
        // would be if each variant had the CPU to itself. On a shared machine req/s also measures the neighbours.
        cpuOursOverBare: ratio(summary.bare.cpuUsPerRequest, summary.ours.cpuUsPerRequest),
        cpuOursOverPeer: ratio(summary.peer.cpuUsPerRequest, summary.ours.cpuUsPerRequest),
      };
      if (route === 'completions') samplesForPlot[p.platform] = acc.lat;
      log(
        `hits ${route} on ${p.platform}: ours ${summary.ours.reqPerSec} req/s, bare ${summary.bare.reqPerSec}, peer ${summary.peer.reqPerSec}; ` +
          `CPU µs/req ours ${summary.ours.cpuUsPerRequest}, bare ${summary.bare.cpuUsPerRequest}, peer ${summary.peer.cpuUsPerRequest}`,
      );
    }
  }
  // Fastify against Express, variant by variant (> 1: Fastify serves more per wall second / per CPU second).
  const e = summaries.express;
  const f = summaries.fastify;
  const fastifyOverExpress =
    e && f
      ? Object.fromEntries(
          (Object.keys(HIT_ROUTES) as HitRoute[]).map((route) => [
            route,
            Object.fromEntries(
              HIT_VARIANTS.map((v) => [
                v,
                {
                  reqPerSec: ratio(f[route]![v].reqPerSec, e[route]![v].reqPerSec),
                  cpu: ratio(e[route]![v].cpuUsPerRequest, f[route]![v].cpuUsPerRequest),
                },
              ]),
            ),
          ]),
        )
      : undefined;

  mkdirSync(resultsDir, { recursive: true });
  const colors: Record<HitVariant, string> = { ours: '#d62728', bare: '#7f7f7f', peer: '#1f77b4' };
  const names: Record<HitVariant, string> = {
    ours: 'ours (llm-cache)',
    bare: 'bare (no cache)',
    peer: 'peer (cache-manager)',
  };
  writeFileSync(
    join(resultsDir, quick ? 'hit-latency-quick.svg' : 'hit-latency.svg'),
    latencyCdfSvg(
      'Cache hit latency, POST /v1/chat/completions (one request in flight)',
      platforms.flatMap((p) =>
        HIT_VARIANTS.map((v) => ({
          name: `${names[v]}, ${p.platform}`,
          samplesMs: samplesForPlot[p.platform][v],
          color: colors[v],
          // Express solid (the reference), Fastify dashed in the same colour.
          dashed: p.platform === 'fastify',
        })),
      ),
    ),
  );
  return { ...out, fastifyOverExpress };
}

/**
 * 1b. The adaptive Redis command deadline under twice the hit benchmark's load: how many cache reads gave up
 * although Redis was healthy (each one a hit served as a miss), from the app's own `redis_operations_total`.
 */
async function benchFalseTimeouts(adaptive: App, fixed: App) {
  const connections = S.connections * 2;
  const body = completionBody('bench hit');
  await timedRequest({ port: fixed.port, path: '/v1/chat/completions', body });
  const totals = { adaptive: { ok: 0, failed: 0, requests: 0 }, fixed: { ok: 0, failed: 0, requests: 0 } };
  // Interleaved A/B, as the hit rounds: both see the same neighbours on a shared machine.
  for (let round = 0; round < S.rounds; round++) {
    for (const [name, app] of round % 2
      ? ([
          ['fixed', fixed],
          ['adaptive', adaptive],
        ] as const)
      : ([
          ['adaptive', adaptive],
          ['fixed', fixed],
        ] as const)) {
      const before = await redisReads(app.port);
      const r = await autocannon({
        url: `http://127.0.0.1:${app.port}/v1/chat/completions`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections,
        duration: S.hitSeconds,
        timeout: 10,
      });
      const after = await redisReads(app.port);
      totals[name].ok += after.ok - before.ok;
      totals[name].failed += after.failed - before.failed;
      totals[name].requests += r.requests.total;
    }
  }
  const rate = (t: { ok: number; failed: number }) =>
    t.ok + t.failed > 0 ? round(t.failed / (t.ok + t.failed), 5) : NaN;
  const out = {
    connections,
    adaptive: { ...totals.adaptive, falseTimeoutRate: rate(totals.adaptive) },
    fixed50Ms: { ...totals.fixed, falseTimeoutRate: rate(totals.fixed) },
  };
  log(
    `false timeouts at ${connections} connections: adaptive ${totals.adaptive.failed}/${totals.adaptive.ok + totals.adaptive.failed} reads, ` +
      `fixed 50 ms ${totals.fixed.failed}/${totals.fixed.ok + totals.fixed.failed}`,
  );
  return out;
}

/** `redis_operations_total{operation="get"}` by outcome, from the app's /metrics. */
async function redisReads(port: number): Promise<{ ok: number; failed: number }> {
  const text = (await timedRequest({ port, path: '/metrics', method: 'GET' })).body;
  const read = (success: string) => {
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('redis_operations_total{') &&
          l.includes('operation="get"') &&
          l.includes(`success="${success}"`),
      );
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return { ok: read('true'), failed: read('false') };
}

/** utime + stime of a process, in seconds (Linux /proc; clock ticks are 100 Hz there). */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** 2. Streamed hit: time to first byte and to last byte of a replayed SSE stream. */
async function benchStreamReplay(app: App) {
  const target: HttpTarget = {
    port: app.port,
    path: '/v1/chat/completions',
    body: completionBody('bench stream', { stream: true }),
  };
  const warm = await timedRequest(target);
  const again = await timedRequest(target);
  if (again.headers['x-cache'] !== 'HIT') throw new Error(`streamed warm-up did not hit (${warm.status})`);
  const ttfb: number[] = [];
  const ttlb: number[] = [];
  let chunks = 0;
  for (let i = 0; i < S.streamSamples; i++) {
    const r = await timedRequest(target);
    ttfb.push(r.ttfbMs);
    ttlb.push(r.totalMs);
    chunks = r.body.split('\n\n').filter((l) => l.startsWith('data: ')).length;
  }
  const out = {
    timeToFirstByte: summarize(ttfb),
    timeToLastByte: summarize(ttlb),
    sseEventsPerResponse: chunks,
  };
  log(`stream replay: ttfb p50 ${out.timeToFirstByte.p50Ms} ms, ttlb p50 ${out.timeToLastByte.p50Ms} ms`);
  return out;
}

/**
 * 3. Miss overhead, two ways, interleaved (rounds of the three variants, order rotated), one in flight:
 * - vs. the upstream direct: a miss through the app vs. the same request straight to the upstream. Includes the app
 *   hop (HTTP server, Nest, body parsing) and the openai SDK, which any app pays with or without a cache.
 * - the cache's own: a miss vs. the same app's same route with the cache bypassed (`Cache-Control: no-store`: no
 *   Redis command at all, the same provider and SDK path). The difference is what the cache adds to a miss.
 */
async function benchMissOverhead(app: App, upstreamPort: number) {
  const run = Date.now();
  const path = '/v1/chat/completions';
  const variants = {
    viaApp: (i: number): HttpTarget => ({ port: app.port, path, body: completionBody(`miss ${run} ${i}`) }),
    bypass: (i: number): HttpTarget => ({
      port: app.port,
      path,
      body: completionBody(`bypass ${run} ${i}`),
      headers: { 'cache-control': 'no-store' },
    }),
    direct: (i: number): HttpTarget => ({
      port: upstreamPort,
      path,
      body: completionBody(`direct ${run} ${i}`),
    }),
  };
  const names = Object.keys(variants) as Array<keyof typeof variants>;
  const latencies = { viaApp: [] as number[], bypass: [] as number[], direct: [] as number[] };
  let errors = 0;
  let n = 0;
  // Unmeasured warm-up of both app routes (the first requests of a route run unoptimized code).
  for (const name of ['viaApp', 'bypass'] as const) {
    const warm = await runClosedLoop((i) => variants[name](n + i), Math.min(20, S.missSamples), 1, 60_000);
    n += warm.latenciesMs.length + warm.errors;
  }
  const perRound = Math.ceil(S.missSamples / S.rounds);
  for (let round = 0; round < S.rounds; round++) {
    for (let v = 0; v < names.length; v++) {
      const name = names[(v + round) % names.length];
      const base = n;
      const r = await runClosedLoop((i) => variants[name](base + i), perRound, 1, 120_000);
      n += perRound;
      latencies[name].push(...r.latenciesMs);
      errors += r.errors;
    }
  }
  const a = summarize(latencies.viaApp);
  const b = summarize(latencies.bypass);
  const d = summarize(latencies.direct);
  const out = {
    viaApp: a,
    bypass: b,
    directUpstream: d,
    /** Miss through the app − the upstream direct (app hop + SDK + cache). */
    addedP50Ms: round(a.p50Ms - d.p50Ms),
    addedP99Ms: round(a.p99Ms - d.p99Ms),
    /** Miss − the same route bypassed (`no-store`): the cache's own cost on a miss. */
    cacheAddedP50Ms: round(a.p50Ms - b.p50Ms),
    cacheAddedP99Ms: round(a.p99Ms - b.p99Ms),
    errors,
  };
  log(
    `miss overhead vs upstream: +${out.addedP50Ms} ms p50, +${out.addedP99Ms} ms p99; ` +
      `cache only (vs no-store): +${out.cacheAddedP50Ms} ms p50, +${out.cacheAddedP99Ms} ms p99`,
  );
  return out;
}

/** 6. Redis commands per hit (INFO commandstats deltas) and bytes stored per entry vs. the raw body. */
async function benchRedisCost(app: App, redis: RedisServer) {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const target: HttpTarget = {
      port: app.port,
      path: '/v1/chat/completions',
      body: completionBody('bench round trips'),
    };
    const first = await timedRequest(target);
    await timedRequest(target);
    await sleep(1500); // let batched stats flush before the baseline
    const before = commandCalls(await client.info('commandstats'));
    for (let i = 0; i < S.rtHits; i++) await timedRequest(target);
    const after = commandCalls(await client.info('commandstats'));
    const perCommand: Record<string, number> = {};
    for (const [cmd, n] of Object.entries(after)) {
      const delta = n - (before[cmd] ?? 0);
      if (delta > 0 && cmd !== 'info') perCommand[cmd] = round(delta / S.rtHits, 3);
    }
    const readsPerHit = (perCommand.get ?? 0) + (perCommand.mget ?? 0);
    const keys = await scanAll(client, '*:llm:v*');
    const sizes = await Promise.all(
      keys.map(async (k) => ({
        strlen: await client.strlen(k),
        memory: Number(await client.call('MEMORY', 'USAGE', k)),
      })),
    );
    const rawBodyBytes = Buffer.byteLength(first.body);
    const stored = sizes.length ? median(sizes.map((s) => s.strlen)) : NaN;
    const out = {
      hits: S.rtHits,
      commandsPerHit: perCommand,
      readRoundTripsPerHit: readsPerHit,
      entries: keys.length,
      rawBodyBytes,
      storedValueBytesMedian: stored,
      redisMemoryUsageBytesMedian: sizes.length ? median(sizes.map((s) => s.memory)) : NaN,
      storedOverRaw: ratio(stored, rawBodyBytes),
    };
    log(`redis cost: ${JSON.stringify(perCommand)} per hit; stored ${stored} B vs raw ${rawBodyBytes} B`);
    return out;
  } finally {
    client.disconnect();
  }
}

/** 4. Stampede: N identical concurrent misses on one and on two app processes → upstream calls and latency. */
async function benchStampede(apps: App[], upstreamPort: number) {
  const out: Array<Record<string, unknown>> = [];
  for (const n of [10, 100]) {
    for (const processes of [1, 2]) {
      for (const variant of ['ours', 'peer'] as const) {
        await getJson(upstreamPort, '/__reset', 'POST');
        const content = `stampede ${variant} ${n} ${processes} ${Date.now()} __slow_${STAMPEDE_UPSTREAM_DELAY_MS}__`;
        const body = completionBody(content);
        const path = variant === 'ours' ? '/v1/chat/completions' : '/bench/peer/v1/chat/completions';
        const start = performance.now();
        const responses = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            timedRequest({ port: apps[i % processes].port, path, body }).catch(() => ({
              status: 0,
              totalMs: NaN,
            })),
          ),
        );
        const wallMs = performance.now() - start;
        const { calls } = await getJson<{ calls: number }>(upstreamPort, '/__stats');
        const row = {
          variant,
          concurrent: n,
          processes,
          upstreamCalls: calls,
          errors: responses.filter((r) => r.status !== 200).length,
          latency: summarize(responses.map((r) => r.totalMs).filter(Number.isFinite)),
          wallMs: round(wallMs, 1),
        };
        out.push(row);
        log(
          `stampede ${variant} n=${n} processes=${processes}: ${calls} upstream calls, ${row.errors} errors`,
        );
      }
    }
  }
  return out;
}

/** 5. Redis down and Redis hung: latency added and errors over a fixed number of requests (misses by design). */
async function benchOutage(app: App, redis: RedisServer) {
  const run = Date.now();
  const measure = async (label: string, path = '/v1/chat/completions', count = S.outage) => {
    const r = await runClosedLoop(
      (i) => ({ port: app.port, path, body: completionBody(`outage ${label} ${run} ${i}`) }),
      count,
      8,
      120_000,
      // A request that hangs this long has failed for the user: count it as an error instead of waiting on.
      2_000,
    );
    return {
      latency: summarize(r.latenciesMs),
      errors: r.errors,
      statuses: r.statuses,
      failures: r.failures,
    };
  };
  const baseline = await measure('baseline');
  const peerBaseline = await measure('peer-baseline', '/bench/peer/v1/chat/completions');
  await redis.kill();
  const down = await measure('down');
  const peerDown = await measure('peer-down', '/bench/peer/v1/chat/completions');
  await redis.restart();
  await sleep(3000); // reconnect + breaker probe
  const recovered = await measure('recovered');
  const hungOnset = await benchHangOnset(app, redis, run);
  redis.pause();
  let hung: Awaited<ReturnType<typeof measure>>;
  let peerHung: Awaited<ReturnType<typeof measure>>;
  try {
    // The sustained outage (steady state): after the onset has passed, only the breaker's probes touch Redis.
    await sleep(500);
    hung = await measure('hung');
    peerHung = await measure('peer-hung', '/bench/peer/v1/chat/completions');
  } finally {
    redis.resume();
  }
  const added = (m: { latency: LatencySummary }, base: { latency: LatencySummary }) => ({
    addedP50Ms: round(m.latency.p50Ms - base.latency.p50Ms),
    addedP99Ms: round(m.latency.p99Ms - base.latency.p99Ms),
  });
  const out = {
    requestsPerPhase: S.outage,
    ours: {
      baseline,
      down: { ...down, ...added(down, baseline) },
      hungOnset,
      hung: { ...hung, ...added(hung, baseline) },
      recovered,
    },
    peer: {
      baseline: peerBaseline,
      down: { ...peerDown, ...added(peerDown, peerBaseline) },
      hung: { ...peerHung, ...added(peerHung, peerBaseline) },
    },
  };
  log(
    `outage: ours down +${out.ours.down.addedP99Ms} ms p99 ${down.errors} errors; hung onset +${hungOnset.addedMs.maxMs} ms max, +${hungOnset.addedMs.p99Ms} ms p99 (${hungOnset.requests} requests), steady +${out.ours.hung.addedP99Ms} ms p99, ${hung.errors + hungOnset.errors} errors; peer down ${peerDown.errors} errors, hung ${peerHung.errors} errors`,
  );
  return out;
}

/** Requests in flight when Redis stops, or sent this soon after: the ones that may wait on a command deadline. */
const ONSET_WINDOW_MS = 100;
/** How long each stop lasts: well past the 50 ms cap, so it is a hang and not a stall to learn from. */
const ONSET_STOP_MS = 400;
/** Healthy traffic of the same load before each stop: its p50 is what an onset request is compared with. */
const ONSET_HEALTHY_MS = 400;

/**
 * 5b. The onset of a hang, per request: the same load as the outage phases (8 unique misses in flight, closed
 * loop) runs on; after `ONSET_HEALTHY_MS` Redis is stopped (SIGSTOP) for `ONSET_STOP_MS`, then resumed and given a
 * second to be used again; `S.onsetCycles` times. An onset request is one in flight at the stop (in any stage:
 * lookup, lock, upstream, store) or sent within `ONSET_WINDOW_MS` after it; its added latency is its latency minus
 * the p50 of the requests that ran wholly before that stop (the same load, just before).
 */
async function benchHangOnset(app: App, redis: RedisServer, run: number) {
  const addedMs: number[] = [];
  const expectedP50Ms: number[] = [];
  let errors = 0;
  let seq = 0;
  for (let cycle = 0; cycle < S.onsetCycles; cycle++) {
    const done: Array<{ startMs: number; endMs: number; ok: boolean }> = [];
    let stopAtMs = Infinity;
    // Bounded in time however late the stop comes (a loaded machine), and each request by 2 s.
    const issueUntilMs = performance.now() + 10_000;
    const worker = async () => {
      while (performance.now() < Math.min(issueUntilMs, stopAtMs + ONSET_WINDOW_MS)) {
        const startMs = performance.now();
        const body = completionBody(`outage onset ${run} ${seq++}`);
        try {
          const res = await timedRequest({ port: app.port, path: '/v1/chat/completions', body }, 2_000);
          done.push({ startMs, endMs: performance.now(), ok: res.status < 400 });
        } catch {
          done.push({ startMs, endMs: performance.now(), ok: false });
        }
      }
    };
    const workers = Promise.all(Array.from({ length: 8 }, worker));
    await sleep(ONSET_HEALTHY_MS);
    redis.pause();
    stopAtMs = performance.now();
    try {
      await workers;
      await sleep(Math.max(0, stopAtMs + ONSET_STOP_MS - performance.now()));
    } finally {
      redis.resume();
    }
    const healthy = done.filter((r) => r.ok && r.endMs < stopAtMs).map((r) => r.endMs - r.startMs);
    const expected = median(healthy);
    expectedP50Ms.push(expected);
    for (const r of done) {
      if (r.endMs < stopAtMs || r.startMs > stopAtMs + ONSET_WINDOW_MS) continue;
      if (!r.ok) errors++;
      else addedMs.push(r.endMs - r.startMs - expected);
    }
    await sleep(1000); // the PING that ends the fail-fast state, and the breaker closing
  }
  const out = {
    cycles: S.onsetCycles,
    requests: addedMs.length,
    errors,
    expectedP50Ms: round(median(expectedP50Ms)),
    addedMs: summarize(addedMs),
  };
  log(
    `hang onset: ${out.requests} requests over ${out.cycles} stops, added max ${out.addedMs.maxMs} ms, p99 ${out.addedMs.p99Ms} ms, p90 ${out.addedMs.p90Ms} ms, p50 ${out.addedMs.p50Ms} ms (expected ${out.expectedP50Ms} ms), ${errors} errors`,
  );
  return out;
}

function commandCalls(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

async function scanAll(client: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  let guard = 0;
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0' && ++guard < 10_000);
  return keys;
}

function printTable(r: Record<string, any>): void {
  const rows: string[][] = [['measure', 'ours', 'bare', 'peer', 'ours/bare', 'ours/peer']];
  for (const platform of ['express', 'fastify']) {
    for (const route of ['completions', 'chat']) {
      const h = r.hits[platform]?.[route];
      if (!h) continue;
      rows.push([
        `hit req/s ${route} [${platform}]`,
        h.ours.reqPerSec,
        h.bare.reqPerSec,
        h.peer.reqPerSec,
        h.oursOverBare,
        h.oursOverPeer,
      ]);
      rows.push([
        `hit CPU µs/req ${route} [${platform}]`,
        h.ours.cpuUsPerRequest,
        h.bare.cpuUsPerRequest,
        h.peer.cpuUsPerRequest,
        h.cpuOursOverBare,
        h.cpuOursOverPeer,
      ]);
      rows.push([
        `hit p50/p99 ms ${route} [${platform}]`,
        `${h.ours.latency.p50Ms}/${h.ours.latency.p99Ms}`,
        `${h.bare.latency.p50Ms}/${h.bare.latency.p99Ms}`,
        `${h.peer.latency.p50Ms}/${h.peer.latency.p99Ms}`,
        '',
        '',
      ]);
    }
  }
  for (const route of ['completions', 'chat']) {
    const x = r.hits.fastifyOverExpress?.[route];
    if (!x) continue;
    rows.push([`hit fastify/express by CPU per req ${route}`, x.ours.cpu, x.bare.cpu, x.peer.cpu, '', '']);
  }
  rows.push([
    `false timeouts at ${r.falseTimeouts.connections} conns (adaptive | fixed 50 ms)`,
    `${r.falseTimeouts.adaptive.failed}/${r.falseTimeouts.adaptive.ok + r.falseTimeouts.adaptive.failed}`,
    `${r.falseTimeouts.fixed50Ms.failed}/${r.falseTimeouts.fixed50Ms.ok + r.falseTimeouts.fixed50Ms.failed}`,
    '',
    '',
    '',
  ]);
  const s = r.streamReplay;
  rows.push([
    'stream replay ttfb/ttlb p50 ms',
    `${s.timeToFirstByte.p50Ms}/${s.timeToLastByte.p50Ms}`,
    '',
    '',
    '',
    '',
  ]);
  rows.push([
    'miss overhead vs upstream p50/p99 ms',
    `+${r.missOverhead.addedP50Ms}/+${r.missOverhead.addedP99Ms}`,
    '',
    '',
    '',
    '',
  ]);
  rows.push([
    'miss overhead of the cache (vs no-store) p50/p99 ms',
    `+${r.missOverhead.cacheAddedP50Ms}/+${r.missOverhead.cacheAddedP99Ms}`,
    '',
    '',
    '',
    '',
  ]);
  rows.push(['redis commands per hit', JSON.stringify(r.redisCost.commandsPerHit), '', '', '', '']);
  rows.push([
    'stored bytes / raw body',
    `${r.redisCost.storedValueBytesMedian}/${r.redisCost.rawBodyBytes}`,
    '',
    '',
    '',
    '',
  ]);
  for (const st of r.stampede.filter((x: any) => x.variant === 'ours')) {
    const peer = r.stampede.find(
      (x: any) => x.variant === 'peer' && x.concurrent === st.concurrent && x.processes === st.processes,
    );
    rows.push([
      `stampede n=${st.concurrent} procs=${st.processes} upstream calls`,
      st.upstreamCalls,
      '',
      peer?.upstreamCalls,
      '',
      '',
    ]);
  }
  const o = r.outage;
  rows.push([
    'redis down: added p99 ms / errors',
    `${o.ours.down.addedP99Ms}/${o.ours.down.errors}`,
    '',
    `${o.peer.down.addedP99Ms}/${o.peer.down.errors}`,
    '',
    '',
  ]);
  const onset = o.ours.hungOnset;
  rows.push([
    `redis hung onset (${onset.requests} req, ${onset.cycles} stops): added max/p99 ms / errors`,
    `${onset.addedMs.maxMs}/${onset.addedMs.p99Ms} / ${onset.errors}`,
    '',
    '',
    '',
    '',
  ]);
  rows.push([
    'redis hung: added p99 ms / errors',
    `${o.ours.hung.addedP99Ms}/${o.ours.hung.errors}`,
    '',
    `${o.peer.hung.addedP99Ms}/${o.peer.hung.errors}`,
    '',
    '',
  ]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => String(row[c] ?? '').length)));
  for (const row of rows) console.log(row.map((cell, c) => String(cell ?? '').padEnd(widths[c])).join('  '));
  if (r.soak) for (const line of soakSummary(r.soak)) console.log(line);
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

const hardStop = setTimeout(
  () => {
    log('hard time limit reached; aborting');
    process.exit(2);
  },
  // The soak runs for a set time on top of the rest.
  (quick ? 5 : 30) * 60_000 + soakMs,
);
hardStop.unref();

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
