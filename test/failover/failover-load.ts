/**
 * Steady mixed load on the chatbot's `/v1/chat/completions` for failover specs, on 127.0.0.1 only and bounded in
 * time: hits on a warmed set of prompts (JSON and SSE), unique misses (JSON and SSE), and every `burstEveryMs` a
 * burst of identical concurrent requests for a fresh prompt, spread over two app instances (each has its own
 * in-process coalescer, so only the Redis lock can coalesce across them), whose upstream calls show whether
 * coalescing held.
 * Every request is recorded (time, kind, outcome, X-Cache) so a spec can compute failures, hit ratio per time bucket
 * and duplicate upstream calls, and print them.
 */
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { startChatbot, upstreamEnv, type TestChatbot } from '../chatbot/chatbot-test-app.js';

export type LoadKind = 'hit' | 'hit-stream' | 'miss' | 'miss-stream' | 'burst';

export interface LoadSample {
  startMs: number;
  endMs: number;
  kind: LoadKind;
  ok: boolean;
  cache: string | null;
  error?: string;
}

export interface BurstRecord {
  prompt: string;
  startMs: number;
  endMs: number;
}

export interface LoadOptions {
  /** Concurrent request loops. */
  concurrency?: number;
  /** Warmed prompts the hit requests draw from. */
  hotPrompts?: number;
  burstEveryMs?: number;
  burstSize?: number;
  /** Pause between two requests of one loop (keeps a shared 2-core box usable). */
  pauseMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const body = (content: string, stream: boolean) =>
  JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content }], stream });

/** The assistant text of a JSON completion or of an SSE stream (its deltas joined); '' when unreadable. */
function answerOf(text: string, stream: boolean): string {
  try {
    if (!stream) return String(JSON.parse(text).choices?.[0]?.message?.content ?? '');
    let out = '';
    for (const line of text.split('\n')) {
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      out += JSON.parse(line.slice(6)).choices?.[0]?.delta?.content ?? '';
    }
    return out;
  } catch {
    return '';
  }
}

export class FailoverLoad {
  readonly samples: LoadSample[] = [];
  readonly bursts: BurstRecord[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private seq = 0;
  private readonly concurrency: number;
  private readonly hotPrompts: number;
  private readonly burstEveryMs: number;
  private readonly burstSize: number;
  private readonly pauseMs: number;

  constructor(
    private readonly baseUrls: string[],
    private readonly upstream: FakeOpenAiServer,
    private readonly tag: string,
    options: LoadOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 4;
    this.hotPrompts = options.hotPrompts ?? 24;
    this.burstEveryMs = options.burstEveryMs ?? 400;
    this.burstSize = options.burstSize ?? 4;
    this.pauseMs = options.pauseMs ?? 3;
  }

  private hot(i: number): string {
    return `${this.tag} hot prompt ${i}`;
  }

  /** Stores every hot prompt (JSON and SSE) so that later hot requests are hits. */
  async warm(): Promise<void> {
    for (let i = 0; i < this.hotPrompts; i++) {
      for (const stream of [false, true]) {
        const r = await this.request(this.hot(i), stream ? 'hit-stream' : 'hit', i);
        if (!r.ok) throw new Error(`warm-up request failed: ${r.error}`);
      }
    }
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.loops.push(this.loop(i));
    this.loops.push(this.burstLoop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async loop(worker: number): Promise<void> {
    let n = worker;
    while (this.running) {
      n++;
      const pick = n % 10;
      // 7 in 10 requests are hits (half of them streamed), 3 in 10 are unique misses (one of them streamed).
      if (pick < 7) {
        const prompt = this.hot(Math.floor(Math.random() * this.hotPrompts));
        const stream = pick % 2 === 1;
        this.samples.push(await this.request(prompt, stream ? 'hit-stream' : 'hit', n));
      } else {
        const stream = pick === 9;
        this.samples.push(
          await this.request(`${this.tag} miss ${this.seq++}`, stream ? 'miss-stream' : 'miss', n),
        );
      }
      await sleep(this.pauseMs);
    }
  }

  private async burstLoop(): Promise<void> {
    while (this.running) {
      const prompt = `${this.tag} burst ${this.seq++}`;
      const startMs = Date.now();
      const results = await Promise.all(
        Array.from({ length: this.burstSize }, (_, i) => this.request(prompt, 'burst', i, i % 4 >= 2)),
      );
      this.samples.push(...results);
      this.bursts.push({ prompt, startMs, endMs: Date.now() });
      await sleep(this.burstEveryMs);
    }
  }

  /** One request to app instance `instance % baseUrls.length`. */
  private async request(
    prompt: string,
    kind: LoadKind,
    instance: number,
    streamOverride?: boolean,
  ): Promise<LoadSample> {
    const stream = streamOverride ?? kind.endsWith('stream');
    const startMs = Date.now();
    try {
      const res = await fetch(`${this.baseUrls[instance % this.baseUrls.length]}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(prompt, stream),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      const cache = res.headers.get('x-cache');
      let ok = res.status === 200;
      let error = ok ? undefined : `HTTP ${res.status}: ${text.slice(0, 200)}`;
      if (ok && stream && !text.trimEnd().endsWith('data: [DONE]')) {
        ok = false;
        error = `stream without [DONE]: ${text.slice(-200)}`;
      }
      if (ok && !answerOf(text, stream).includes(prompt)) {
        ok = false;
        error = `answer does not echo the prompt: ${text.slice(0, 200)}`;
      }
      return { startMs, endMs: Date.now(), kind, ok, cache, error };
    } catch (err) {
      return { startMs, endMs: Date.now(), kind, ok: false, cache: null, error: String(err) };
    }
  }

  /** Upstream calls beyond the first for each burst prompt, with the burst's time span. */
  duplicateUpstreamCalls(): Array<BurstRecord & { duplicates: number }> {
    const counts = new Map<string, number>();
    for (const call of this.upstream.calls) {
      const messages = call.body?.messages;
      const content = Array.isArray(messages) ? messages[messages.length - 1]?.content : undefined;
      if (typeof content === 'string') counts.set(content, (counts.get(content) ?? 0) + 1);
    }
    return this.bursts
      .map((b) => ({ ...b, duplicates: Math.max(0, (counts.get(b.prompt) ?? 0) - 1) }))
      .filter((b) => b.duplicates > 0);
  }
}

export interface FailoverReport {
  scenario: string;
  requests: number;
  failed: number;
  failures: string[];
  baselineHitRatio: number;
  /** Seconds from the event until every later 1 s window of hot requests is back to ≥ 90 % of the baseline. */
  recoverySeconds: number | undefined;
  /** Lowest 1 s hit ratio after the event. */
  minHitRatio: number;
  duplicatesDuringSwitch: number;
  duplicatesOutsideSwitch: number;
  bursts: number;
  /** Seconds the switch took (event → topology settled, as the spec observed it). */
  switchSeconds: number;
  /** Hot-request hit ratio per 1 s window, from the baseline's start to the end ('-' = no hot request). */
  timeline: string;
}

/**
 * Summarises the load around one event: requests/failures after `fromMs`, hot-request hit ratio in the
 * `baselineMs` before `eventMs`, then per 1 s window after it. A duplicate upstream call counts as "during the switch"
 * when its burst overlapped [eventMs, recoveredAt].
 */
export function report(
  load: FailoverLoad,
  scenario: string,
  fromMs: number,
  eventMs: number,
  settledMs: number,
  endMs: number,
  baselineMs = 3000,
  /** Where recovery is counted from (default: the event). */
  recoveryFromMs = eventMs,
): FailoverReport {
  const inRange = load.samples.filter((s) => s.startMs >= fromMs && s.startMs < endMs);
  const failed = inRange.filter((s) => !s.ok);
  const hot = inRange.filter((s) => s.kind === 'hit' || s.kind === 'hit-stream');
  const ratio = (list: LoadSample[]) =>
    list.length ? list.filter((s) => s.cache === 'HIT').length / list.length : NaN;
  const baselineHitRatio = ratio(hot.filter((s) => s.startMs >= eventMs - baselineMs && s.startMs < eventMs));
  const windows: Array<{ atMs: number; ratio: number }> = [];
  for (let t = recoveryFromMs; t + 1000 <= endMs; t += 1000)
    windows.push({ atMs: t, ratio: ratio(hot.filter((s) => s.startMs >= t && s.startMs < t + 1000)) });
  const target = 0.9 * baselineHitRatio;
  let recoveredAt: number | undefined;
  for (let i = windows.length - 1; i >= 0; i--) {
    // A second in which no hit request started (the load loops were not scheduled) says nothing either way: it
    // neither ends the recovered stretch nor counts as recovered.
    if (Number.isNaN(windows[i].ratio)) continue;
    if (!(windows[i].ratio >= target)) break;
    recoveredAt = windows[i].atMs;
  }
  const recoveryWindowEnd = (recoveredAt ?? endMs) + 1000;
  const dups = load.duplicateUpstreamCalls().filter((b) => b.startMs >= fromMs && b.startMs < endMs);
  const during = dups.filter(
    (b) => b.endMs >= eventMs && b.startMs <= Math.max(recoveryWindowEnd, settledMs),
  );
  const sum = (list: Array<{ duplicates: number }>) => list.reduce((a, b) => a + b.duplicates, 0);
  return {
    scenario,
    requests: inRange.length,
    failed: failed.length,
    failures: [...new Set(failed.map((f) => `${f.kind}: ${f.error}`))].slice(0, 5),
    baselineHitRatio,
    recoverySeconds: recoveredAt === undefined ? undefined : (recoveredAt - recoveryFromMs) / 1000,
    minHitRatio: Math.min(...windows.map((w) => (Number.isNaN(w.ratio) ? 1 : w.ratio))),
    duplicatesDuringSwitch: sum(during),
    duplicatesOutsideSwitch: sum(dups) - sum(during),
    bursts: load.bursts.filter((b) => b.startMs >= fromMs && b.startMs < endMs).length,
    switchSeconds: (settledMs - eventMs) / 1000,
    timeline: timeline(hot, eventMs - baselineMs, endMs, eventMs),
  };
}

function timeline(hot: LoadSample[], fromMs: number, endMs: number, eventMs: number): string {
  const cells: string[] = [];
  for (let t = fromMs; t + 1000 <= endMs; t += 1000) {
    const w = hot.filter((s) => s.startMs >= t && s.startMs < t + 1000);
    const cell = w.length
      ? String(Math.round((100 * w.filter((s) => s.cache === 'HIT').length) / w.length))
      : '-';
    cells.push(t >= eventMs && t < eventMs + 1000 ? `|${cell}` : cell);
  }
  return cells.join(' ');
}

/** One line per scenario, meant to be copied into BENCHMARKS.md. */
export function printReport(r: FailoverReport): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  process.stdout.write(
    `[failover] ${r.scenario}: requests=${r.requests} failed=${r.failed} ` +
      `baselineHit=${pct(r.baselineHitRatio)} minHit1s=${pct(r.minHitRatio)} ` +
      `recovery=${r.recoverySeconds === undefined ? 'never' : `${r.recoverySeconds.toFixed(1)} s`} ` +
      `switch=${r.switchSeconds.toFixed(1)} s bursts=${r.bursts} ` +
      `duplicateUpstream(during switch)=${r.duplicatesDuringSwitch} (outside)=${r.duplicatesOutsideSwitch}` +
      `\n  hit % per 1 s (| = event): ${r.timeline}` +
      (r.failures.length ? `\n  failures: ${r.failures.join('\n  ')}` : '') +
      '\n',
  );
}

/**
 * The system under failover: two chatbot instances on one Redis topology (`redisEnv`) and the fake upstream, warmed
 * up and under load. Identical requests are split over both instances, so they coalesce only through Redis. `stop()`
 * also cleans up after a start that failed half-way.
 */
export class LoadedChatbots {
  upstream?: FakeOpenAiServer;
  readonly bots: TestChatbot[] = [];
  load!: FailoverLoad;

  async start(tag: string, redisEnv: Record<string, string>): Promise<FailoverLoad> {
    this.upstream = await new FakeOpenAiServer({ latencyMs: 30 }).start();
    for (let i = 0; i < 2; i++)
      this.bots.push(
        await startChatbot(
          upstreamEnv(undefined, this.upstream.baseURL, {
            ...redisEnv,
            // Generous on a shared 2-core box: a command timeout there turns hits into misses, which is not failover.
            REDIS_COMMAND_TIMEOUT_MS: '500',
          }),
        ),
      );
    this.load = new FailoverLoad(
      this.bots.map((b) => b.url),
      this.upstream,
      tag,
    );
    await this.load.warm();
    this.load.start();
    return this.load;
  }

  async stop(): Promise<void> {
    await this.load?.stop();
    await Promise.all(this.bots.map((b) => b.close()));
    await this.upstream?.stop();
  }
}
