/**
 * Soak: minutes of steady mixed load on one chatbot process over its own fresh redis-server, sampling the app's RSS
 * (/proc/<pid>/status VmRSS) and Redis' `used_memory` (INFO memory) every few seconds. Entries get a short TTL so
 * Redis reaches its steady state (keys ≈ miss rate × TTL) within the run; growth is measured after that warm-up,
 * where a leak shows as a slope and a healthy process is flat.
 *
 * Load (closed loop, bounded concurrency, 127.0.0.1 only): hits on a hot set (JSON and SSE), unique misses (JSON
 * and SSE), and `/chat` turns. Every error (non-200, broken stream, network) is counted and the first few are kept.
 *
 * `--soak-ms <n>` sets the duration (default 600000 in a full run; `npm run bench -- --quick` skips the soak unless
 * `--soak-ms` is given explicitly).
 */
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisServer } from '../test/harness/redis-server.js';
import { timedRequest, type HttpTarget } from './lib/http.js';
import { median, round } from './lib/stats.js';

export const DEFAULT_SOAK_MS = 600_000;
const SAMPLE_EVERY_MS = 5000;
const CONCURRENCY = 6;
const HOT_PROMPTS = 50;
/** Pause between two requests of one worker: steady load that leaves a shared machine usable. */
const PAUSE_MS = 2;
/** Growth below this fraction between the first and last quarter after warm-up counts as flat. */
const FLAT_FRACTION = 0.1;

/** `--soak-ms <n>` from argv; otherwise the default in a full run and 0 (skipped) with --quick. */
export function soakMsFromArgs(argv: string[], quick: boolean): number {
  const i = argv.indexOf('--soak-ms');
  if (i >= 0) {
    const ms = Number(argv[i + 1]);
    if (!Number.isInteger(ms) || ms < 0)
      throw new Error(`--soak-ms needs a whole number of ms, got ${argv[i + 1]}`);
    return ms;
  }
  return quick ? 0 : DEFAULT_SOAK_MS;
}

export interface SoakApp {
  port: number;
  child: ChildProcess;
}

export interface SoakSample {
  atSeconds: number;
  rssMb: number;
  redisUsedMb: number;
  redisKeys: number;
  requests: number;
  errors: number;
}

/** How one sampled quantity moved after warm-up (in that quantity's unit). */
interface Growth {
  /** Median of the first quarter of post-warm-up samples. */
  start: number;
  /** Median of the last quarter. */
  end: number;
  growthPercent: number;
  /** Least-squares slope over the post-warm-up samples, per minute. */
  slopePerMin: number;
  flat: boolean;
}

export interface SoakResult {
  durationSeconds: number;
  warmupSeconds: number;
  cacheTtlMs: number;
  concurrency: number;
  requests: number;
  requestsPerSecond: number;
  hitRatio: number;
  errors: number;
  firstErrors: string[];
  rssMb: Growth;
  redisUsedMb: Growth;
  /**
   * used_memory / keys: the number of live entries follows the request rate (TTL × misses/s), which moves with a
   * noisy machine's throughput; memory per key is what a leak in Redis (keys without TTL, growing hashes) would move.
   */
  redisBytesPerKey: Growth;
  samples: SoakSample[];
}

/**
 * Runs the soak. `startApp(env)` starts one chatbot process with these env overrides (its own Redis, short TTLs);
 * the caller owns the process list, this function stops the app and its Redis when done.
 */
export async function benchSoak(
  startApp: (env: Record<string, string>) => Promise<SoakApp>,
  stopApp: (app: SoakApp) => Promise<void>,
  durationMs: number,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<SoakResult> {
  const cacheTtlMs = Math.round(Math.min(60_000, Math.max(10_000, durationMs / 5)));
  const warmupMs = Math.min(2 * cacheTtlMs + 10_000, durationMs / 2);
  const redis = await RedisServer.start();
  const probe = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  let app: SoakApp | undefined;
  try {
    app = await startApp({
      REDIS_URL: redis.url,
      CACHE_TTL_MS: String(cacheTtlMs),
      CONVERSATION_TTL_MS: String(cacheTtlMs),
      // A soak measures memory, not timeouts: a shared machine's hiccups must not turn hits into misses.
      REDIS_COMMAND_TIMEOUT_MS: '500',
    });
    const port = app.port;
    const pid = app.child.pid!;
    log(
      `soak: ${round(durationMs / 1000, 0)} s of mixed load on :${port} (TTL ${cacheTtlMs} ms, ${CONCURRENCY} workers)`,
    );

    let requests = 0;
    let hits = 0;
    let hotRequests = 0;
    let errors = 0;
    const firstErrors: string[] = [];
    let seq = 0;
    const fail = (what: string) => {
      errors++;
      if (firstErrors.length < 5) firstErrors.push(what);
    };
    const completion = (content: string, stream: boolean): HttpTarget => ({
      port,
      path: '/v1/chat/completions',
      body: JSON.stringify({
        model: 'fake-model',
        messages: [{ role: 'user', content }],
        temperature: 0,
        stream,
      }),
    });

    const started = Date.now();
    const deadline = started + durationMs;
    const worker = async (w: number) => {
      let n = w;
      while (Date.now() < deadline) {
        n++;
        const pick = n % 20;
        let target: HttpTarget;
        let hot = false;
        let stream = false;
        if (pick < 12) {
          // hits (half streamed) on the hot set
          stream = pick % 2 === 1;
          hot = true;
          target = completion(`soak hot ${Math.floor(Math.random() * HOT_PROMPTS)}`, stream);
        } else if (pick < 17) {
          stream = pick === 16;
          target = completion(`soak miss ${seq++}`, stream);
        } else {
          target = {
            port,
            path: '/chat',
            body: JSON.stringify({ message: `soak chat ${n % 10}`, temperature: 0 }),
          };
        }
        try {
          const res = await timedRequest(target, 15_000);
          requests++;
          if (res.status !== 200) fail(`${target.path} HTTP ${res.status}: ${res.body.slice(0, 160)}`);
          else if (stream && !res.body.trimEnd().endsWith('data: [DONE]'))
            fail(`stream without [DONE]: ${res.body.slice(-160)}`);
          if (hot) {
            hotRequests++;
            if (res.headers['x-cache'] === 'HIT') hits++;
          }
        } catch (err) {
          requests++;
          fail(`${target.path}: ${(err as Error).message}`);
        }
        await sleep(PAUSE_MS);
      }
    };

    const samples: SoakSample[] = [];
    const sample = async () => {
      const info = await probe.info('memory');
      samples.push({
        atSeconds: round((Date.now() - started) / 1000, 1),
        rssMb: rssMb(pid),
        redisUsedMb: round(Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN) / 2 ** 20, 2),
        redisKeys: await probe.dbsize(),
        requests,
        errors,
      });
    };
    const sampler = (async () => {
      while (Date.now() < deadline) {
        await sample();
        const last = samples[samples.length - 1];
        if (samples.length % 12 === 1)
          log(
            `soak: t=${last.atSeconds} s rss=${last.rssMb} MB redis=${last.redisUsedMb} MB keys=${last.redisKeys} ` +
              `requests=${last.requests} errors=${last.errors}`,
          );
        await sleep(Math.min(SAMPLE_EVERY_MS, Math.max(0, deadline - Date.now())));
      }
    })();
    await Promise.all([...Array.from({ length: CONCURRENCY }, (_, w) => worker(w)), sampler]);
    await sample();

    const elapsedS = (Date.now() - started) / 1000;
    const after = samples.filter((s) => s.atSeconds * 1000 >= warmupMs);
    return {
      durationSeconds: round(elapsedS, 1),
      warmupSeconds: round(warmupMs / 1000, 1),
      cacheTtlMs,
      concurrency: CONCURRENCY,
      requests,
      requestsPerSecond: round(requests / elapsedS, 0),
      hitRatio: round(hotRequests ? hits / hotRequests : NaN, 4),
      errors,
      firstErrors,
      rssMb: growth(after.map((s) => [s.atSeconds, s.rssMb])),
      redisUsedMb: growth(after.map((s) => [s.atSeconds, s.redisUsedMb])),
      redisBytesPerKey: growth(
        after
          .filter((s) => s.redisKeys > 0)
          .map((s) => [s.atSeconds, (s.redisUsedMb * 2 ** 20) / s.redisKeys]),
      ),
      samples,
    };
  } finally {
    probe.disconnect();
    if (app) await stopApp(app);
    await redis.stop();
  }
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return round(kb / 1024, 1);
}

function growth(points: Array<[number, number]>): Growth {
  const q = Math.max(1, Math.floor(points.length / 4));
  const start = median(points.slice(0, q).map(([, v]) => v));
  const end = median(points.slice(-q).map(([, v]) => v));
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const growthFraction = (end - start) / start;
  return {
    start: round(start, 2),
    end: round(end, 2),
    growthPercent: round(100 * growthFraction, 1),
    slopePerMin: round(sxx ? (60 * sxy) / sxx : 0, 3),
    flat: growthFraction <= FLAT_FRACTION,
  };
}

/** Lines for the bench's printed summary. */
export function soakSummary(r: SoakResult): string[] {
  const g = (name: string, unit: string, x: Growth) =>
    `${name}: ${x.start} → ${x.end} ${unit} after warm-up (${x.growthPercent >= 0 ? '+' : ''}${x.growthPercent} %, ` +
    `slope ${x.slopePerMin} ${unit}/min) — ${x.flat ? 'flat (target met)' : 'GROWING (target missed)'}`;
  return [
    `Soak ${r.durationSeconds} s (warm-up ${r.warmupSeconds} s, TTL ${r.cacheTtlMs} ms, ${r.concurrency} workers): ` +
      `${r.requests} requests (${r.requestsPerSecond}/s), hot hit ratio ${round(100 * r.hitRatio, 1)} %, ` +
      `errors ${r.errors}${r.firstErrors.length ? ` (${r.firstErrors.join(' | ')})` : ''}`,
    `  ${g('app RSS', 'MB', r.rssMb)}`,
    `  ${g('Redis used_memory', 'MB', r.redisUsedMb)}`,
    `  ${g('Redis used_memory per key', 'B', r.redisBytesPerKey)}`,
  ];
}
