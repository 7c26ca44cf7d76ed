import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

const KEY = 'key-ai-sdk-tenant';

/**
 * The Vercel AI SDK pointed at the app's `/v1` unchanged (its OpenAI-compatible provider speaks chat completions):
 * plain and streamed generations work, and repeats are served from the cache without an upstream call.
 */
describe('Vercel AI SDK against /v1/chat/completions', () => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  let model: ReturnType<ReturnType<typeof createOpenAICompatible>>;

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    bot = await startChatbot(upstreamEnv(redis.url, fake.baseURL, { CHATBOT_API_KEYS: `aisdk:${KEY}` }));
    const provider = createOpenAICompatible({
      name: 'llm-cache',
      baseURL: `${bot.url}/v1`,
      apiKey: KEY,
      includeUsage: true,
    });
    model = provider('fake-model');
  });
  afterAll(async () => {
    await bot?.close();
    await fake?.stop();
    await redis?.stop();
  });
  beforeEach(() => fake.reset());

  it('generateText answers, and the identical second call is a cache hit with no upstream call', async () => {
    const first = await generateText({ model, prompt: 'ai sdk plain question', maxRetries: 0 });
    expect(first.text).toContain('ai sdk plain question');
    expect(fake.callCount).toBe(1);

    const second = await generateText({ model, prompt: 'ai sdk plain question', maxRetries: 0 });
    expect(second.text).toBe(first.text);
    expect(second.response.headers?.['x-cache']).toBe('HIT');
    expect(fake.callCount).toBe(1);
  });

  it('streamText streams the answer, and a streamed repeat replays it from the cache', async () => {
    const collect = async () => {
      const result = streamText({ model, prompt: 'ai sdk streamed question', maxRetries: 0 });
      let text = '';
      for await (const delta of result.textStream) text += delta;
      return { text, usage: await result.usage, finishReason: await result.finishReason };
    };
    const first = await collect();
    expect(first.text).toContain('ai sdk streamed question');
    expect(first.finishReason).toBe('stop');
    expect(first.usage.totalTokens).toBeGreaterThan(0);
    expect(fake.callCount).toBe(1);

    const second = await collect();
    expect(second.text).toBe(first.text);
    expect(second.finishReason).toBe('stop');
    expect(second.usage.totalTokens).toBe(first.usage.totalTokens);
    expect(fake.callCount).toBe(1);
  });
});
