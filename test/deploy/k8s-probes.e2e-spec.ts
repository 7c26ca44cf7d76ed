/**
 * The Deployment's probes against the built app (`node dist/apps/chatbot/main.js`) started with the manifests'
 * environment, through the failures the probes exist for: Redis down, Redis hung, the model upstream down, and the
 * kubelet's SIGTERM. The probe client calls each probe exactly as declared in deploy/k8s/base/deployment.yaml:
 * `httpGet.path`, the port resolved by name among the container ports, `timeoutSeconds` as the request deadline, a
 * new connection per call (the kubelet does not keep probe connections alive), success = 200–399, "fails" =
 * `failureThreshold` consecutive failures.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import {
  buildChatbot,
  killChatbotProcesses,
  startChatbotProcess,
  type ChatbotProcess,
} from '../harness/chatbot-process.js';
import { RedisServer } from '../harness/redis-server.js';
import { K8S_DIR, containersOf, find, kustomize, readYamlDocuments } from './kustomize-lite.js';

interface Probe {
  httpGet: { path: string; port: string | number };
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}
interface Container {
  ports: Array<{ name: string; containerPort: number }>;
  envFrom: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  startupProbe: Probe;
  livenessProbe: Probe;
  readinessProbe: Probe;
}

const base = kustomize(join(K8S_DIR, 'base'));
const deployment = find(base, 'Deployment', 'llm-cache-chatbot');
const podSpec = (deployment.spec as { template: { spec: { terminationGracePeriodSeconds: number } } })
  .template.spec;
const container = containersOf([deployment])[0] as unknown as Container;
const configMapName = container.envFrom.find((e) => e.configMapRef)!.configMapRef!.name;
const secretName = container.envFrom.find((e) => e.secretRef)!.secretRef!.name;
const configMap = find(base, 'ConfigMap', configMapName).data as Record<string, string>;
const [secretTemplate] = readYamlDocuments(join(K8S_DIR, 'base', 'secret.example.yaml'));

/**
 * The liveness and readiness periods of the manifest (10 s, 5 s) would make each "never fails over
 * failureThreshold periods" window 30 s long. Those windows use the manifest's periods × PERIOD_SCALE (same
 * ratios, same thresholds, same timeouts); the startup probe, whose phase ends at its first success, uses its real
 * period. Request deadlines are always the manifest's timeoutSeconds.
 */
const PERIOD_SCALE = 0.2;

const TENANT_KEY = 'probe-tenant-key-0123456789';
const LLM_API_KEY = 'sk-probe-test-upstream-key';

/** Test values for every key of the Secret template (a new key there fails this test until it gets one here). */
function secretValues(redisUrl: string): Record<string, string> {
  const values: Record<string, string> = {
    CHATBOT_API_KEYS: `tenant-a:${TENANT_KEY},tenant-b:probe-tenant-b-key-0123456789`,
    ADMIN_TOKEN: 'probe-admin-token-0123456789',
    LLM_API_KEY,
    REDIS_URL: redisUrl,
  };
  expect(Object.keys(values).sort()).toEqual(
    Object.keys(secretTemplate.stringData as Record<string, string>).sort(),
  );
  expect(secretTemplate.metadata.name).toBe(secretName);
  return values;
}

/** The container's environment from its envFrom (ConfigMap, then Secret), plus the test's only additions. */
function manifestEnv(redisUrl: string, llmBaseUrl: string, extra: Record<string, string> = {}) {
  const { PORT, HOST, ...config } = configMap;
  expect({ PORT, HOST }).toEqual({ PORT: expect.any(String), HOST: '0.0.0.0' });
  return {
    ...config,
    ...secretValues(redisUrl),
    // Test-only: the model upstream is the fake on 127.0.0.1 (nothing leaves this machine). PORT and HOST are not
    // passed: startChatbotProcess sets them to a free 127.0.0.1 port; `portOf` maps the manifest's port onto it.
    LLM_BASE_URL: llmBaseUrl,
    ...extra,
  };
}

interface ProbeResult {
  ok: boolean;
  status?: number;
  body?: any;
  error?: string;
  ms: number;
  at: number;
}

/** One kubelet-style HTTP probe call. */
function probeOnce(app: ChatbotProcess, probe: Probe): Promise<ProbeResult> {
  const started = Date.now();
  return new Promise((done) => {
    const finish = (r: Omit<ProbeResult, 'ms' | 'at'>) => {
      clearTimeout(deadline);
      done({ ...r, ms: Date.now() - started, at: started });
    };
    const req = request(
      {
        host: '127.0.0.1',
        port: portOf(app, probe),
        path: probe.httpGet.path,
        agent: false,
        headers: { 'User-Agent': 'kube-probe/1.34', Accept: '*/*', Connection: 'close' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const status = res.statusCode!;
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* keep the text */
          }
          finish({ ok: status >= 200 && status < 400, status, body });
        });
        res.on('error', (err) => finish({ ok: false, error: err.message }));
      },
    );
    const deadline = setTimeout(() => {
      req.destroy();
      finish({ ok: false, error: `timeout after ${probe.timeoutSeconds} s` });
    }, probe.timeoutSeconds * 1000);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: err.code ?? err.message }));
    req.end();
  });
}

/** `httpGet.port` by name among the container ports; the manifest's port is where the test app listens. */
function portOf(app: ChatbotProcess, probe: Probe): number {
  const { port } = probe.httpGet;
  const declared =
    typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort;
  if (declared === undefined) throw new Error(`probe port ${String(port)} is not a container port`);
  expect(String(declared)).toBe(configMap.PORT);
  return app.port;
}

const periodMs = (probe: Probe) => probe.periodSeconds * 1000 * PERIOD_SCALE;

/** Calls `probe` every (scaled) period for `rounds` calls, as the kubelet's probe worker does. */
async function probeFor(app: ChatbotProcess, probe: Probe, rounds: number): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = await probeOnce(app, probe);
    results.push(r);
    if (i < rounds - 1) await sleep(Math.max(0, periodMs(probe) - r.ms));
  }
  return results;
}

/** The kubelet's verdict over a series: "fails" once failureThreshold consecutive calls failed. */
function failedAt(results: ProbeResult[], probe: Probe): number | undefined {
  let run = 0;
  for (const [i, r] of results.entries()) {
    run = r.ok ? 0 : run + 1;
    if (run >= probe.failureThreshold) return i;
  }
  return undefined;
}

/** One liveness window (failureThreshold scaled periods) with readiness probed alongside, for each app. */
async function observe(apps: ChatbotProcess[]) {
  const { livenessProbe: live, readinessProbe: ready } = container;
  const windowMs = live.failureThreshold * periodMs(live);
  return Promise.all(
    apps.map(async (app) => {
      const [liveness, readiness] = await Promise.all([
        probeFor(app, live, live.failureThreshold),
        probeFor(app, ready, Math.ceil(windowMs / periodMs(ready))),
      ]);
      return { liveness, readiness };
    }),
  );
}

/** Probes readiness every (scaled) period until it succeeds with Redis up, or throws after `ms`. */
async function readyWithRedisUp(app: ChatbotProcess, ms: number): Promise<ProbeResult> {
  const deadline = Date.now() + ms;
  let last: ProbeResult | undefined;
  while (Date.now() < deadline) {
    last = await probeOnce(app, container.readinessProbe);
    if (last.ok && last.body?.info?.redis?.status === 'up' && !last.body.info.redis.degraded) return last;
    await sleep(periodMs(container.readinessProbe));
  }
  throw new Error(`not ready with Redis up after ${ms} ms: ${JSON.stringify(last)}`);
}

/** A chat completion as a tenant; a transport failure is a result (status 0), so it can be awaited later. */
async function chat(app: ChatbotProcess, content: string, timeoutMs = 20_000) {
  try {
    const res = await fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TENANT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: configMap.LLM_MODEL, messages: [{ role: 'user', content }] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: (await res.json()) as any };
  } catch (err) {
    return { status: 0, body: String((err as Error).cause ?? err) };
  }
}

/** Starts the app and runs the startup probe from the first moment, with its real period and threshold. */
async function startWithStartupProbe(env: Record<string, string>) {
  const app = await startChatbotProcess(env, { expectListening: false });
  const probe = container.startupProbe;
  const results: ProbeResult[] = [];
  for (let i = 0; i < probe.failureThreshold && app.proc.exitCode === null; i++) {
    const r = await probeOnce(app, probe);
    results.push(r);
    if (r.ok) break;
    await sleep(Math.max(0, probe.periodSeconds * 1000 - r.ms));
  }
  if (!results.at(-1)?.ok)
    throw new Error(`startup probe never succeeded: ${JSON.stringify(results)}\n${app.output()}`);
  return { app, startup: results };
}

describe('Kubernetes probes against the app started with the manifests (deploy/k8s/base)', () => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let app: ChatbotProcess;
  /** Same manifests, but REDIS_REQUIRED=true: readiness must follow Redis. */
  let strict: ChatbotProcess;

  beforeAll(async () => {
    buildChatbot();
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer({ apiKey: LLM_API_KEY }).start();
    expect(configMap.REDIS_REQUIRED).toBe('false');
    const started = await Promise.all([
      startWithStartupProbe(manifestEnv(redis.url, fake.baseURL)),
      startWithStartupProbe(manifestEnv(redis.url, fake.baseURL, { REDIS_REQUIRED: 'true' })),
    ]);
    [app, strict] = started.map((s) => s.app);
    for (const s of started) expect(s.startup.at(-1)!.status).toBe(200);
  }, 150_000);

  afterAll(async () => {
    killChatbotProcesses();
    redis?.resume();
    await redis?.stop();
    await fake?.stop();
  });

  it('1. healthy: startup, liveness and readiness succeed; the app answers through Redis and the upstream', async () => {
    for (const a of [app, strict]) {
      expect((await probeOnce(a, container.startupProbe)).status).toBe(200);
      expect((await probeOnce(a, container.livenessProbe)).status).toBe(200);
      await readyWithRedisUp(a, 10_000);
    }
    const first = await chat(app, 'hello from the probe test');
    expect(first.status).toBe(200);
    expect(fake.callCount).toBe(1);
    expect((await chat(app, 'hello from the probe test')).status).toBe(200);
    expect(fake.callCount).toBe(1); // served from Redis
  }, 30_000);

  it('2. Redis down: liveness never fails; readiness stays up (degraded) unless REDIS_REQUIRED=true; back when Redis is', async () => {
    const ready = container.readinessProbe;
    await redis.kill();
    const killedAt = Date.now();
    const [lenient, required] = await observe([app, strict]);

    for (const { liveness } of [lenient, required]) {
      expect(liveness.filter((r) => !r.ok)).toEqual([]);
    }
    // REDIS_REQUIRED=false (the ConfigMap): every readiness call 200, reporting the degradation.
    expect(lenient.readiness.filter((r) => r.status !== 200)).toEqual([]);
    expect(lenient.readiness.at(-1)!.body.info.redis).toMatchObject({ status: 'up', degraded: true });
    // REDIS_REQUIRED=true: 503, and the kubelet's verdict "fails" within failureThreshold × period.
    const failIndex = failedAt(required.readiness, ready);
    expect(failIndex).toBeDefined();
    expect(required.readiness[failIndex!].status).toBe(503);
    expect(required.readiness[failIndex!].body.error.redis.status).toBe('down');
    expect(
      required.readiness[failIndex!].at + required.readiness[failIndex!].ms - killedAt,
    ).toBeLessThanOrEqual(ready.failureThreshold * periodMs(ready) + ready.timeoutSeconds * 1000);

    await redis.restart();
    // ioredis reconnects with a backoff capped at 2 s.
    await Promise.all([readyWithRedisUp(app, 15_000), readyWithRedisUp(strict, 15_000)]);
  }, 45_000);

  it('3. Redis hung (SIGSTOP): every probe answers within its timeoutSeconds; liveness stays up', async () => {
    redis.pause();
    try {
      const [lenient, required] = await observe([app, strict]);
      const startup = await Promise.all([app, strict].map((a) => probeOnce(a, container.startupProbe)));
      const probes = [container.livenessProbe, container.readinessProbe];
      for (const { liveness, readiness } of [lenient, required]) {
        for (const [i, series] of [liveness, readiness].entries())
          for (const r of series) {
            expect(r.error).toBeUndefined(); // an answer, not a timeout
            expect(r.ms).toBeLessThan(probes[i].timeoutSeconds * 1000);
          }
        expect(liveness.filter((r) => !r.ok)).toEqual([]);
      }
      for (const r of startup) expect(r).toMatchObject({ ok: true, status: 200 });
      expect(lenient.readiness.filter((r) => r.status !== 200)).toEqual([]);
      expect(failedAt(required.readiness, container.readinessProbe)).toBeDefined();
    } finally {
      redis.resume();
    }
    await Promise.all([readyWithRedisUp(app, 15_000), readyWithRedisUp(strict, 15_000)]);
    // The strict app has shown what it is for; its SIGTERM exercises the default (no drain) path of the same code.
    strict.proc.kill('SIGTERM');
    expect(await strict.exited).toEqual({ code: 0, signal: null });
  }, 45_000);

  it('4. upstream down: liveness and readiness unaffected while model calls fail', async () => {
    await fake.stop();
    const [[window], failed] = await Promise.all([observe([app]), chat(app, 'the upstream is down')]);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(failed.body.error).toBeDefined();
    expect(window.liveness.filter((r) => r.status !== 200)).toEqual([]);
    expect(window.readiness.filter((r) => r.status !== 200)).toEqual([]);
    expect(window.readiness.at(-1)!.body.info.redis).toMatchObject({ status: 'up' });
  }, 45_000);

  it('5. SIGTERM: readiness fails while the port still serves (SHUTDOWN_DRAIN_MS), then the app exits 0 within the grace period', async () => {
    const drainMs = Number(configMap.SHUTDOWN_DRAIN_MS);
    expect(drainMs).toBeGreaterThan(0);
    await fake.start(fake.port); // same URL the app was configured with
    const ready = container.readinessProbe;

    // A request in flight when SIGTERM arrives (the upstream holds it 1 s).
    const inFlight = chat(app, 'in flight at SIGTERM __slow_1000__');
    await sleep(200);
    const sigtermAt = Date.now();
    app.proc.kill('SIGTERM');

    // Readiness every 100 ms (faster than any period, to time the transitions) until the listener is gone.
    const series: ProbeResult[] = [];
    const livenessDuringDrain: ProbeResult[] = [];
    let newDuringDrain: Promise<{ status: number; body: any }> | undefined;
    while (Date.now() - sigtermAt < podSpec.terminationGracePeriodSeconds * 1000) {
      const r = await probeOnce(app, ready);
      series.push(r);
      if (r.error) break;
      if (r.status === 503) {
        newDuringDrain ??= chat(app, 'new request during the drain');
        // The kubelet keeps probing liveness during termination: the drain must not get the pod restarted.
        livenessDuringDrain.push(await probeOnce(app, container.livenessProbe));
      }
      await sleep(100);
    }
    const firstDown = series.findIndex((r) => r.status === 503);
    // Refused; or, racing the close, accepted and reset by the idle-connection sweep.
    const closed = series.findIndex((r) => /^ECONN(REFUSED|RESET)$/.test(r.error ?? ''));
    expect(firstDown).toBeGreaterThanOrEqual(0);
    expect(series[firstDown].body).toEqual({
      status: 'error',
      info: {},
      error: { shutdown: { status: 'down' } },
      details: { shutdown: { status: 'down' } },
    });
    // Readiness fails at once (within one readiness timeout of SIGTERM) …
    expect(series[firstDown].at + series[firstDown].ms - sigtermAt).toBeLessThan(ready.timeoutSeconds * 1000);
    // … and keeps failing on a port that still accepts connections, for about SHUTDOWN_DRAIN_MS, before it closes.
    expect(closed).toBeGreaterThan(firstDown);
    const answered503 = series.slice(firstDown, closed);
    expect(answered503.every((r) => r.status === 503)).toBe(true);
    expect(series[closed].at - series[firstDown].at).toBeGreaterThanOrEqual(drainMs - 300);
    expect(answered503.length).toBeGreaterThan(1);
    // Liveness answered 200 throughout; only the last call may race the listener closing (refused, or accepted just
    // as the server closed and reset by the idle-connection sweep).
    const lastLiveness = livenessDuringDrain.at(-1)!;
    expect(livenessDuringDrain.length).toBeGreaterThan(1);
    expect(livenessDuringDrain.slice(0, -1).filter((r) => r.status !== 200)).toEqual([]);
    expect(lastLiveness.status === 200 || /^ECONN(REFUSED|RESET)$/.test(lastLiveness.error ?? '')).toBe(true);

    // The in-flight request and a request that arrived during the drain were both answered.
    expect((await inFlight).status).toBe(200);
    expect(newDuringDrain).toBeDefined();
    expect((await newDuringDrain!).status).toBe(200);

    // What the kubelet would do at the end of the grace period: SIGKILL.
    const graceOver = new AbortController();
    const exit = await Promise.race([
      app.exited,
      sleep(podSpec.terminationGracePeriodSeconds * 1000 - (Date.now() - sigtermAt), 'SIGKILL', {
        signal: graceOver.signal,
      }),
    ]).finally(() => graceOver.abort());
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - sigtermAt).toBeLessThan(podSpec.terminationGracePeriodSeconds * 1000);
  }, 60_000);
});
