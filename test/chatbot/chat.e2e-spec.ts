import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { call, startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

const ACME = 'key-acme-0001';
const GLOBEX = 'key-globex-0001';

describe('POST /chat', () => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  const chat = (body: unknown, key = ACME, headers: Record<string, string> = {}) =>
    call(`${bot.url}/chat`, { body, headers: { authorization: `Bearer ${key}`, ...headers } });

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    bot = await startChatbot(
      upstreamEnv(redis.url, fake.baseURL, {
        CHATBOT_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
        CONVERSATION_MAX_MESSAGES: '4',
        LLM_ALLOWED_MODELS: 'fake-model,fake-model-2',
      }),
    );
  });
  afterAll(async () => {
    await bot?.close();
    await fake?.stop();
    await redis?.stop();
  });
  beforeEach(() => fake.reset());

  it('serves the second identical request from Redis without calling the provider', async () => {
    const first = await chat({ message: 'Is the blue kettle dishwasher-safe?' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ cached: false, reply: expect.stringContaining('blue kettle') });
    expect(first.body.usage).toMatchObject({
      prompt_tokens: expect.any(Number),
      completion_tokens: expect.any(Number),
    });
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(first.headers.get('cache-status')).toMatch(/fwd=miss/);
    expect(first.headers.get('age')).toBeNull();

    const second = await chat({ message: 'Is the blue kettle dishwasher-safe?' });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ cached: true, reply: first.body.reply });
    expect(second.body.conversationId).not.toBe(first.body.conversationId);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.headers.get('cache-status')).toMatch(/; hit/);
    expect(Number(second.headers.get('age'))).toBeGreaterThanOrEqual(0);
    expect(fake.callCount).toBe(1);
  });

  it('carries the conversation history into a follow-up turn', async () => {
    const first = await chat({ message: 'I am looking at the red teapot.' });
    const conversationId = first.body.conversationId as string;
    expect(conversationId).toMatch(/^[A-Za-z0-9_-]+$/);

    const second = await chat({ message: 'How much does it hold?', conversationId });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ conversationId, cached: false });
    const sent = fake.calls[1].body.messages as Array<{ role: string; content: string }>;
    expect(sent.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(sent[1].content).toBe('I am looking at the red teapot.');
    expect(sent[2].content).toBe(first.body.reply);
    expect(sent[3].content).toBe('How much does it hold?');
  });

  it('appends a cached answer to the history like a fresh one', async () => {
    const opening = { message: 'Which sizes does the green mug come in?' };
    const fresh = await chat(opening);
    const cached = await chat(opening);
    expect(cached.body.cached).toBe(true);
    await chat({ message: 'And in blue?', conversationId: cached.body.conversationId });
    expect(fake.callCount).toBe(2);
    const sent = fake.calls[1].body.messages as Array<{ role: string; content: string }>;
    expect(sent.slice(1)).toEqual([
      { role: 'user', content: opening.message },
      { role: 'assistant', content: fresh.body.reply },
      { role: 'user', content: 'And in blue?' },
    ]);
  });

  it('bounds the history to CONVERSATION_MAX_MESSAGES, dropping the oldest turns', async () => {
    const { body } = await chat({ message: 'turn 1' });
    const conversationId = body.conversationId as string;
    for (const message of ['turn 2', 'turn 3', 'turn 4']) {
      expect((await chat({ message, conversationId })).status).toBe(200);
    }
    const calls = fake.callCount;
    await chat({ message: 'turn 5', conversationId });
    const sent = fake.calls[calls].body.messages as Array<{ role: string; content: string }>;
    // system + the newest 4 stored messages (turns 3 and 4 with their answers) + the new one.
    expect(sent).toHaveLength(6);
    expect(sent.map((m) => m.content)).toEqual(expect.arrayContaining(['turn 3', 'turn 4', 'turn 5']));
    expect(sent.some((m) => m.content === 'turn 1' || m.content === 'turn 2')).toBe(false);
  });

  it('refuses a conversationId the server did not issue (404, no fixation, no upstream call)', async () => {
    const res = await chat({ message: 'hello from nowhere', conversationId: 'never-seen-before-42' });
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({
      message: expect.stringMatching(/never-seen-before-42/),
      type: 'invalid_request_error',
      param: 'conversationId',
      code: 'conversation_not_found',
    });
    expect(fake.callCount).toBe(0);
    // Still unknown afterwards: the refused request did not create it.
    expect((await chat({ message: 'again', conversationId: 'never-seen-before-42' })).status).toBe(404);
  });

  it('passes model, temperature and max_tokens to the provider', async () => {
    const res = await chat({
      message: 'params please',
      model: 'fake-model-2',
      temperature: 0.2,
      max_tokens: 7,
    });
    expect(res.status).toBe(200);
    expect(fake.calls[0].body).toMatchObject({ model: 'fake-model-2', temperature: 0.2, max_tokens: 7 });
  });

  it('never shares an entry between two API keys (tenants), even for identical requests', async () => {
    const message = 'tenant isolation check';
    expect((await chat({ message }, ACME)).body.cached).toBe(false);
    const other = await chat({ message }, GLOBEX);
    expect(other.status).toBe(200);
    expect(other.body.cached).toBe(false);
    expect(other.headers.get('x-cache')).toBe('MISS');
    expect(fake.callCount).toBe(2);
    expect((await chat({ message }, GLOBEX)).body.cached).toBe(true);
    expect((await chat({ message }, ACME)).body.cached).toBe(true);
    expect(fake.callCount).toBe(2);
  });

  it("keeps one tenant's conversations out of another's reach", async () => {
    const { body } = await chat({ message: 'my secret order number is 555' }, ACME);
    const res = await chat({ message: 'what did I say?', conversationId: body.conversationId }, GLOBEX);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('conversation_not_found');
    expect(fake.callCount).toBe(1);
    expect(
      (await chat({ message: 'what did I say?', conversationId: body.conversationId }, ACME)).status,
    ).toBe(200);
  });

  it('answers an upstream failure with its mapped status, caching nothing and keeping the history clean', async () => {
    const first = await chat({ message: 'fine question' });
    const conversationId = first.body.conversationId as string;
    const failed = await chat({ message: 'busy? __status_429__', conversationId });
    expect(failed.status).toBe(429);
    expect(failed.body.error.message).toMatch(/upstream says 429/);
    expect((await chat({ message: 'busy? __status_429__', conversationId })).status).toBe(429);
    await chat({ message: 'next question', conversationId });
    expect(fake.callCount).toBe(4);
    const sent = fake.calls[3].body.messages as Array<{ content: string }>;
    expect(sent.some((m) => m.content.includes('__status_429__'))).toBe(false);
  });

  it.each([
    ['no Authorization header', {}, 'missing_api_key'],
    ['an unknown key', { authorization: 'Bearer key-unknown-0001' }, 'invalid_api_key'],
    ['a non-Bearer scheme', { authorization: `Basic ${ACME}` }, 'missing_api_key'],
  ])('rejects %s with 401 in OpenAI error shape', async (_name, headers, code) => {
    const res = await call(`${bot.url}/chat`, { body: { message: 'hi' }, headers });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ type: expect.any(String), code, message: expect.any(String) });
    expect(fake.callCount).toBe(0);
  });
});
