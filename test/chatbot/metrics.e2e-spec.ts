import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { HTTP_PLATFORMS } from '../harness/http-platform.js';
import {
  call,
  startChatbot as startBot,
  testMetricsExporter,
  upstreamEnv,
  type TestChatbot,
} from './chatbot-test-app.js';

/** Sum of the samples of `name` whose labels include every `labels` pair (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : NaN;
}

describe.each(HTTP_PLATFORMS)('GET /metrics on %s', (platform) => {
  const startChatbot = (env: Record<string, string>) => startBot({ ...env, HTTP_PLATFORM: platform });
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  const scrape = async () => {
    const res = await fetch(`${bot.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text();
  };

  beforeAll(async () => {
    testMetricsExporter(); // a MeterProvider before any instrument exists
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    bot = await startChatbot(upstreamEnv(redis.url, fake.baseURL));
  });
  it(`runs on ${platform}`, () => {
    expect(bot.app.getHttpAdapter().getType()).toBe(platform);
  });
  afterAll(async () => {
    await bot?.close();
    await fake?.stop();
    await redis?.stop();
  });

  it('exposes the Redis, cache, LLM and HTTP metrics, primed before first use', async () => {
    const text = await scrape();
    for (const name of [
      'redis_operations_total',
      'redis_connection_status',
      'llm_cache_requests_total',
      'llm_tokens_saved_total',
      'llm_cost_saved_usd_total',
    ]) {
      expect(text).toContain(`${name}`);
    }
    expect(sample(text, 'redis_connection_status', { status: 'connected' })).toBe(1);
  });

  it('shows the named metrics changing with traffic', async () => {
    const before = await scrape();
    const body = { message: 'metrics question' };
    expect((await call(`${bot.url}/chat`, { body })).status).toBe(200);
    expect((await call(`${bot.url}/chat`, { body })).body.cached).toBe(true);
    expect((await call(`${bot.url}/chat`, { body: {} })).status).toBe(400);
    const after = await scrape();

    const delta = (name: string, labels: Record<string, string> = {}) =>
      (sample(after, name, labels) || 0) - (sample(before, name, labels) || 0);
    expect(delta('llm_cache_requests_total', { result: 'hit' })).toBe(1);
    expect(delta('llm_cache_requests_total', { result: 'miss' })).toBe(1);
    expect(delta('llm_tokens_saved_total')).toBeGreaterThan(0);
    expect(delta('redis_operations_total', { operation: 'get', success: 'true' })).toBeGreaterThanOrEqual(2);
    expect(delta('redis_operations_total', { operation: 'set', success: 'true' })).toBeGreaterThanOrEqual(1);
    expect(delta('http_requests_total', { method: 'POST', route: '/chat', status: '200' })).toBe(2);
    expect(delta('http_requests_total', { method: 'POST', route: '/chat', status: '400' })).toBe(1);
    expect(delta('http_request_duration_seconds_count', { route: '/chat' })).toBe(3);
    expect(delta('llm_request_duration_seconds_count')).toBeGreaterThanOrEqual(2);
  });

  it('labels unknown routes as "unmatched", keeping label cardinality bounded', async () => {
    const before = await scrape();
    await call(`${bot.url}/no/such/route/${Date.now()}`);
    const after = await scrape();
    expect(after).not.toMatch(/route="\/no\/such/);
    expect(
      (sample(after, 'http_requests_total', { route: 'unmatched', status: '404' }) || 0) -
        (sample(before, 'http_requests_total', { route: 'unmatched', status: '404' }) || 0),
    ).toBe(1);
  });
});
