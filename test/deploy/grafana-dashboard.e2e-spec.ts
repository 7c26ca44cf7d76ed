import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import {
  call,
  startChatbot,
  testMetricsExporter,
  upstreamEnv,
  type TestChatbot,
} from '../chatbot/chatbot-test-app.js';

const DASHBOARD = join(import.meta.dirname, '..', '..', 'deploy', 'grafana', 'llm-cache.json');

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}

/** PromQL words that are not metric names. */
const PROMQL_WORDS = new Set(
  'sum rate increase irate histogram_quantile clamp_min clamp_max max min avg count by without on ignoring group_left group_right le bool and or unless offset'.split(
    ' ',
  ),
);

/** The metric names and the label names an expression reads. */
export function referencedSeries(expr: string): { metrics: string[]; labels: string[] } {
  const labels = new Set<string>();
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  rest = rest.replace(/\{([^}]*)\}/g, (_, matchers: string) => {
    for (const m of matchers.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.add(m[1]);
    return ' ';
  });
  rest = rest.replace(/\b(?:by|without)\s*\(([^)]*)\)/g, (_, list: string) => {
    for (const l of list
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean))
      labels.add(l);
    return ' ';
  });
  rest = rest
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\w+/g, ' ')
    // Number literals such as 1e-9 or 0.95.
    .replace(/(?<![\w:])\d[\d.]*(?:e[-+]?\d+)?/gi, ' ');
  const metrics = [...rest.matchAll(/[a-zA-Z_:][\w:]*/g)]
    .map((m) => m[0])
    .filter((w) => !PROMQL_WORDS.has(w));
  labels.delete('le');
  return { metrics: [...new Set(metrics)], labels: [...labels] };
}

/** name → label names seen on its samples, from the Prometheus text format. */
function exported(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s/.exec(line);
    if (!m) continue;
    const set = out.get(m[1]) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/(\w+)="/g)) set.add(l[1]);
    out.set(m[1], set);
  }
  return out;
}

describe('Grafana dashboard deploy/grafana/llm-cache.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[] };
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  let series: Map<string, Set<string>>;

  beforeAll(async () => {
    testMetricsExporter();
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    bot = await startChatbot(upstreamEnv(redis.url, fake.baseURL));
    const ask = (content: string, stream = false) =>
      call(`${bot.url}/v1/chat/completions`, {
        body: { model: 'fake-model', stream, messages: [{ role: 'user', content }] },
      });
    // A miss, a hit, a streamed miss and an upstream error, so every series the dashboard reads has samples.
    expect((await ask('dashboard question')).status).toBe(200);
    expect((await ask('dashboard question')).headers.get('x-cache')).toBe('HIT');
    expect((await ask('dashboard stream', true)).status).toBe(200);
    expect((await ask('dashboard __status_500__')).status).toBeGreaterThanOrEqual(500);
    const res = await fetch(`${bot.url}/metrics`);
    series = exported(await res.text());
  }, 60_000);

  afterAll(async () => {
    await bot?.close();
    await fake?.stop();
    await redis?.stop();
  });

  it('covers what operators need: hit ratio, results, savings, hit vs miss latency, upstream errors, Redis latency and breaker', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of [
      'hit ratio',
      'cache result',
      'tokens saved',
      'dollars saved',
      'hit vs miss',
      'upstream errors',
      'redis operation latency',
      'breaker',
    ])
      expect(titles).toContain(topic);
  });

  it('reads only metric names and labels that the app really exports on /metrics', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets ?? []) {
        const { metrics, labels } = referencedSeries(expr);
        for (const name of metrics) {
          checked++;
          const have = series.get(name);
          if (!have) problems.push(`${panel.title}: ${name} is not exported`);
          else
            for (const label of labels)
              if (!have.has(label)) problems.push(`${panel.title}: ${name} has no label ${label}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('the name check can fail: an unknown metric or label is reported', () => {
    expect(referencedSeries('sum by (result) (rate(llm_cache_requestz_total{result="hit"}[5m]))')).toEqual({
      metrics: ['llm_cache_requestz_total'],
      labels: ['result'],
    });
    expect(series.has('llm_cache_requestz_total')).toBe(false);
  });
});
