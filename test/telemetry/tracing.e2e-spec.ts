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

const ask = (bot: ChatbotProcess, content: string, extra: Record<string, unknown> = {}) =>
  call(`${bot.url}/v1/chat/completions`, {
    body: { model: 'fake-model', messages: [{ role: 'user', content }], ...extra },
  });

describe.each(['http/protobuf', 'http/json'] as const)('OpenTelemetry traces over OTLP %s', (protocol) => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let otlp: OtlpReceiver;
  let bot: ChatbotProcess;

  beforeAll(async () => {
    buildChatbot();
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    otlp = await new OtlpReceiver().start();
    bot = await startChatbotProcess({
      REDIS_URL: redis.url,
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: fake.baseURL,
      LLM_API_KEY: 'sk-upstream-test',
      LLM_MODEL: 'fake-model',
      LLM_MAX_RETRIES: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'llm-cache-e2e',
    });
  }, 150_000);

  afterAll(async () => {
    killChatbotProcesses();
    await otlp?.stop();
    await fake?.stop();
    await redis?.stop();
  });

  /** The spans of one trace: the one whose server span has this http.route and whose request carried `marker`. */
  const traceOf = (spans: ReceivedSpan[], traceId: string) => spans.filter((s) => s.traceId === traceId);
  const serverSpans = (spans: ReceivedSpan[]) => spans.filter((s) => s.kind === SPAN_KIND.server);

  it('exports with the configured protocol and the service name', async () => {
    expect((await ask(bot, 'protocol check')).status).toBe(200);
    await otlp.waitFor((spans) => spans.some((s) => s.kind === SPAN_KIND.server));
    expect(otlp.contentTypes[0]).toBe(
      protocol === 'http/json' ? 'application/json' : 'application/x-protobuf',
    );
    expect(otlp.spans[0].resource['service.name']).toBe('llm-cache-e2e');
    console.log(
      otlp.spans
        .map((s) => `${s.name} kind=${s.kind} parent=${s.parentSpanId} ${JSON.stringify(s.attributes)}`)
        .join('\n'),
    );
  });

  it('a miss: server span → cache decision (miss) → GenAI upstream span with the semantic-convention attributes, plus Redis spans', async () => {
    // fill in
  });
});
