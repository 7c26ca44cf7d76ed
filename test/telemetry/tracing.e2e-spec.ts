import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { OtlpReceiver, SPAN_KIND, type ReceivedSpan } from '../harness/otlp-receiver.js';
import { RedisServer } from '../harness/redis-server.js';
import {
  buildChatbot,
  killChatbotProcesses,
  startChatbotProcess,
  type ChatbotProcess,
} from '../harness/chatbot-process.js';
import { call } from '../chatbot/chatbot-test-app.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** One request with its own W3C trace id, so the test can pick its spans out of everything exported. */
async function traced(bot: ChatbotProcess, content: string, extra: Record<string, unknown> = {}) {
  const traceId = hex(16);
  const parentId = hex(8);
  const res = await call(`${bot.url}/v1/chat/completions`, {
    headers: { traceparent: `00-${traceId}-${parentId}-01` },
    body: { model: 'fake-model', messages: [{ role: 'user', content }], ...extra },
  });
  return { res, traceId, parentId };
}

/** Real Redis, the fake upstream, an OTLP receiver and the built app exporting to it, started and stopped together. */
class TracedStack {
  redis!: RedisServer;
  fake!: FakeOpenAiServer;
  otlp!: OtlpReceiver;
  bot!: ChatbotProcess;

  async start(extraEnv: Record<string, string>): Promise<void> {
    buildChatbot();
    this.redis = await RedisServer.start();
    this.fake = await new FakeOpenAiServer().start();
    this.otlp = await new OtlpReceiver().start();
    this.bot = await startChatbotProcess({
      REDIS_URL: this.redis.url,
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: this.fake.baseURL,
      LLM_API_KEY: 'sk-upstream-test',
      LLM_MODEL: 'fake-model',
      LLM_MAX_RETRIES: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: this.otlp.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'llm-cache-e2e',
      ...extraEnv,
    });
  }

  async stop(): Promise<void> {
    killChatbotProcesses();
    await this.otlp?.stop();
    await this.fake?.stop();
    await this.redis?.stop();
  }
}

interface Trace {
  server: ReceivedSpan;
  cache: ReceivedSpan;
  upstream?: ReceivedSpan;
  redis: ReceivedSpan[];
  all: ReceivedSpan[];
}

/** Waits for a trace's server and cache spans (and its upstream span when `withUpstream`), then splits it up. */
async function trace(otlp: OtlpReceiver, traceId: string, withUpstream: boolean): Promise<Trace> {
  const pick = (spans: ReceivedSpan[]) => spans.filter((s) => s.traceId === traceId);
  await otlp.waitFor((spans) => {
    const t = pick(spans);
    return (
      t.some((s) => s.kind === SPAN_KIND.server) &&
      t.some((s) => s.name === 'llm_cache.request') &&
      (!withUpstream || t.some((s) => s.name.startsWith('chat ')))
    );
  });
  // A little longer: anything else of the trace (an unexpected upstream span) would be in the same batches.
  await new Promise((r) => setTimeout(r, 300));
  const all = pick(otlp.spans);
  return {
    all,
    server: all.find((s) => s.kind === SPAN_KIND.server)!,
    cache: all.find((s) => s.name === 'llm_cache.request')!,
    upstream: all.find((s) => s.name.startsWith('chat ')),
    redis: all.filter((s) => s.attributes['db.system.name'] === 'redis'),
  };
}

describe.each(['http/protobuf', 'http/json'] as const)('OpenTelemetry traces over OTLP %s', (protocol) => {
  const stack = new TracedStack();
  beforeAll(() => stack.start({ OTEL_EXPORTER_OTLP_PROTOCOL: protocol }), 150_000);
  afterAll(() => stack.stop());
  const bot = () => stack.bot;
  const otlp = () => stack.otlp;

  const prompt = `What is the capital of France? ${protocol}`;
  let missTrace: Trace;

  it('a miss: server span → llm_cache.request (miss) → "chat fake-model" CLIENT span with the GenAI attributes; Redis commands are children', async () => {
    const { res, traceId, parentId } = await traced(bot(), prompt);
    expect(res.status).toBe(200);
    const t = (missTrace = await trace(otlp(), traceId, true));
    expect(otlp().contentTypes.at(-1)).toBe(
      protocol === 'http/json' ? 'application/json' : 'application/x-protobuf',
    );
    expect(t.server.parentSpanId).toBe(parentId);
    expect(t.server.resource['service.name']).toBe('llm-cache-e2e');
    expect(t.cache.parentSpanId).toBe(t.server.spanId);
    expect(t.cache.attributes).toMatchObject({
      'llm_cache.result': 'miss',
      'llm_cache.tenant': 'default',
      'llm_cache.key_digest': expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(t.upstream).toBeDefined();
    expect(t.upstream!).toMatchObject({
      name: 'chat fake-model',
      kind: SPAN_KIND.client,
      parentSpanId: t.cache.spanId,
    });
    expect(t.upstream!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'fake-model',
      'gen_ai.response.model': expect.any(String),
      'gen_ai.usage.input_tokens': expect.any(Number),
      'gen_ai.usage.output_tokens': expect.any(Number),
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(t.redis.length).toBeGreaterThan(0);
    for (const span of t.redis) expect(t.all.some((p) => p.spanId === span.parentSpanId)).toBe(true);
    expect(t.redis.some((s) => s.parentSpanId === t.cache.spanId)).toBe(true);
  });

  it('no prompt or completion text in any span by default', () => {
    const text = JSON.stringify(missTrace.all);
    expect(text).not.toContain('capital of France');
    expect(text).not.toContain('gen_ai.input.messages');
    expect(text).not.toContain('gen_ai.output.messages');
  });

  it('a hit: llm_cache.request (hit, with age), and no upstream span at all', async () => {
    const { res, traceId } = await traced(bot(), prompt);
    expect(res.headers.get('x-cache')).toBe('HIT');
    const t = await trace(otlp(), traceId, false);
    expect(t.cache.attributes).toMatchObject({
      'llm_cache.result': 'hit',
      'llm_cache.age_s': expect.any(Number),
    });
    expect(t.cache.attributes['llm_cache.key_digest']).toBe(
      missTrace.cache.attributes['llm_cache.key_digest'],
    );
    expect(t.upstream).toBeUndefined();
  });

  it('a streamed miss: the upstream span covers the stream and carries the response model and finish reason', async () => {
    const { res, traceId } = await traced(bot(), `stream me ${protocol}`, { stream: true });
    expect(res.status).toBe(200);
    const t = await trace(otlp(), traceId, true);
    expect(t.cache.attributes['llm_cache.result']).toBe('miss');
    expect(t.upstream!.parentSpanId).toBe(t.cache.spanId);
    expect(t.upstream!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.response.model': expect.any(String),
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(t.upstream!.statusCode).not.toBe(2);
  });

  it('a coalesced pair: one leader calls upstream; the follower has no upstream span and links to the leader’s', async () => {
    const content = `coalesce me __slow_400__ ${protocol}`;
    const [a, b] = await Promise.all([traced(bot(), content), traced(bot(), content)]);
    expect([a.res.status, b.res.status]).toEqual([200, 200]);
    const [ta, tb] = await Promise.all([trace(otlp(), a.traceId, false), trace(otlp(), b.traceId, false)]);
    const leader = [ta, tb].find((t) => t.cache.attributes['llm_cache.result'] === 'miss')!;
    const follower = [ta, tb].find((t) => t.cache.attributes['llm_cache.result'] === 'coalesced')!;
    expect(leader).toBeDefined();
    expect(follower).toBeDefined();
    expect(leader.upstream).toBeDefined();
    expect(follower.upstream).toBeUndefined();
    expect(follower.cache.links).toEqual([
      { traceId: leader.upstream!.traceId, spanId: leader.upstream!.spanId },
    ]);
  });

  it('an upstream error: the upstream span has error.type and an error status', async () => {
    const { res, traceId } = await traced(bot(), `fail __status_503__ ${protocol}`);
    expect(res.status).toBeGreaterThanOrEqual(500);
    const t = await trace(otlp(), traceId, true);
    expect(t.upstream!.statusCode).toBe(2);
    expect(t.upstream!.attributes['error.type']).toEqual(expect.any(String));
    expect(t.cache.attributes['llm_cache.result']).toBe('error');
  });
});

describe('content capture, when the operator turns it on', () => {
  const stack = new TracedStack();
  beforeAll(() => stack.start({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' }), 150_000);
  afterAll(() => stack.stop());
  const bot = () => stack.bot;
  const otlp = () => stack.otlp;

  it('puts the input and output messages on the upstream span', async () => {
    const { traceId } = await traced(bot(), 'capture this prompt');
    const t = await trace(otlp(), traceId, true);
    expect(String(t.upstream!.attributes['gen_ai.input.messages'])).toContain('capture this prompt');
    expect(String(t.upstream!.attributes['gen_ai.output.messages'])).toContain('assistant');
  });
});
