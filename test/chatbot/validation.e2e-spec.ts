import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { HTTP_PLATFORMS } from '../harness/http-platform.js';
import { call, startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

const BODY_LIMIT_BYTES = 16 * 1024;
const MAX_MESSAGES = 8;
const MAX_MESSAGE_CHARS = 200;
const user = (content: unknown) => ({ role: 'user', content });
const ok = { model: 'fake-model', messages: [user('hi')] };

interface BadInput {
  name: string;
  path: '/v1/chat/completions' | '/chat';
  /** A JSON value to send, or `raw` text for what JSON.stringify cannot produce. */
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  /** Expected `error.param` (the offending field), when the error is about one field. */
  param?: string | RegExp;
}

const cases: BadInput[] = [
  // Body framing
  { name: 'malformed JSON', path: '/v1/chat/completions', raw: '{"model": "x", "messages": [', status: 400 },
  { name: 'malformed JSON on /chat', path: '/chat', raw: '{message: hi}', status: 400 },
  { name: 'a JSON array body', path: '/v1/chat/completions', raw: '[1,2]', status: 400 },
  { name: 'a JSON string body', path: '/v1/chat/completions', raw: '"hello"', status: 400 },
  { name: 'a JSON null body', path: '/chat', raw: 'null', status: 400 },
  { name: 'an empty body', path: '/v1/chat/completions', raw: '', status: 400 },
  {
    name: 'a text/plain body',
    path: '/chat',
    raw: 'hello',
    headers: { 'content-type': 'text/plain' },
    status: 400,
  },
  {
    name: 'an oversize body',
    path: '/v1/chat/completions',
    body: { ...ok, messages: [user('x'.repeat(BODY_LIMIT_BYTES + 1))] },
    status: 413,
  },
  // /v1/chat/completions fields
  {
    name: 'missing messages',
    path: '/v1/chat/completions',
    body: { model: 'fake-model' },
    status: 400,
    param: 'messages',
  },
  {
    name: 'messages not an array',
    path: '/v1/chat/completions',
    body: { ...ok, messages: 'hi' },
    status: 400,
    param: 'messages',
  },
  {
    name: 'empty messages',
    path: '/v1/chat/completions',
    body: { ...ok, messages: [] },
    status: 400,
    param: 'messages',
  },
  {
    name: 'too many messages',
    path: '/v1/chat/completions',
    body: { ...ok, messages: Array.from({ length: MAX_MESSAGES + 1 }, () => user('hi')) },
    status: 400,
    param: 'messages',
  },
  {
    name: 'a message that is a string',
    path: '/v1/chat/completions',
    body: { ...ok, messages: ['hi'] },
    status: 400,
    param: /messages\[0\]/,
  },
  {
    name: 'a message without role',
    path: '/v1/chat/completions',
    body: { ...ok, messages: [{ content: 'hi' }] },
    status: 400,
    param: /messages\[0\]/,
  },
  {
    name: 'an unknown role',
    path: '/v1/chat/completions',
    body: { ...ok, messages: [{ role: 'wizard', content: 'hi' }] },
    status: 400,
    param: /messages\[0\]/,
  },
  {
    name: 'numeric content',
    path: '/v1/chat/completions',
    body: { ...ok, messages: [user(42)] },
    status: 400,
    param: /messages\[0\]/,
  },
  {
    name: 'content parts that are not objects',
    path: '/v1/chat/completions',
    body: { ...ok, messages: [user([1, 2])] },
    status: 400,
    param: /messages\[0\]/,
  },
  {
    name: 'missing model',
    path: '/v1/chat/completions',
    body: { messages: [user('hi')] },
    status: 400,
    param: 'model',
  },
  {
    name: 'an empty model',
    path: '/v1/chat/completions',
    body: { ...ok, model: '' },
    status: 400,
    param: 'model',
  },
  {
    name: 'a numeric model',
    path: '/v1/chat/completions',
    body: { ...ok, model: 5 },
    status: 400,
    param: 'model',
  },
  {
    name: 'temperature as a string',
    path: '/v1/chat/completions',
    body: { ...ok, temperature: 'hot' },
    status: 400,
    param: 'temperature',
  },
  {
    name: 'temperature above 2',
    path: '/v1/chat/completions',
    body: { ...ok, temperature: 3 },
    status: 400,
    param: 'temperature',
  },
  {
    name: 'negative temperature',
    path: '/v1/chat/completions',
    body: { ...ok, temperature: -1 },
    status: 400,
    param: 'temperature',
  },
  {
    name: 'top_p above 1',
    path: '/v1/chat/completions',
    body: { ...ok, top_p: 1.5 },
    status: 400,
    param: 'top_p',
  },
  {
    name: 'max_tokens 0',
    path: '/v1/chat/completions',
    body: { ...ok, max_tokens: 0 },
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'fractional max_tokens',
    path: '/v1/chat/completions',
    body: { ...ok, max_tokens: 1.5 },
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'max_tokens as a string',
    path: '/v1/chat/completions',
    body: { ...ok, max_tokens: '10' },
    status: 400,
    param: 'max_tokens',
  },
  { name: 'n of 0', path: '/v1/chat/completions', body: { ...ok, n: 0 }, status: 400, param: 'n' },
  {
    name: 'fractional seed',
    path: '/v1/chat/completions',
    body: { ...ok, seed: 1.5 },
    status: 400,
    param: 'seed',
  },
  {
    name: 'five stop sequences',
    path: '/v1/chat/completions',
    body: { ...ok, stop: ['a', 'b', 'c', 'd', 'e'] },
    status: 400,
    param: 'stop',
  },
  {
    name: 'stream as a string',
    path: '/v1/chat/completions',
    body: { ...ok, stream: 'yes' },
    status: 400,
    param: 'stream',
  },
  {
    name: 'stream_options as a string',
    path: '/v1/chat/completions',
    body: { ...ok, stream_options: 'x' },
    status: 400,
    param: 'stream_options',
  },
  {
    name: 'presence_penalty out of range',
    path: '/v1/chat/completions',
    body: { ...ok, presence_penalty: 5 },
    status: 400,
    param: 'presence_penalty',
  },
  {
    name: 'logit_bias out of range',
    path: '/v1/chat/completions',
    body: { ...ok, logit_bias: { '50256': 200 } },
    status: 400,
    param: /logit_bias/,
  },
  {
    name: 'tools not an array',
    path: '/v1/chat/completions',
    body: { ...ok, tools: 'get_weather' },
    status: 400,
    param: 'tools',
  },
  {
    name: 'an unknown tool_choice',
    path: '/v1/chat/completions',
    body: { ...ok, tool_choice: 'sometimes' },
    status: 400,
    param: 'tool_choice',
  },
  {
    name: 'response_format as a string',
    path: '/v1/chat/completions',
    body: { ...ok, response_format: 'json' },
    status: 400,
    param: 'response_format',
  },
  {
    name: 'an invalid body cache control',
    path: '/v1/chat/completions',
    body: { ...ok, cache: { 'max-age': 'soon' } },
    status: 400,
  },
  {
    name: 'an invalid Cache-Control header',
    path: '/v1/chat/completions',
    body: ok,
    headers: { 'cache-control': 'max-age=-1' },
    status: 400,
  },
  // POST /chat fields
  { name: 'missing message', path: '/chat', body: {}, status: 400, param: 'message' },
  { name: 'an empty message', path: '/chat', body: { message: '   ' }, status: 400, param: 'message' },
  { name: 'a numeric message', path: '/chat', body: { message: 42 }, status: 400, param: 'message' },
  {
    name: 'an over-long message',
    path: '/chat',
    body: { message: 'x'.repeat(MAX_MESSAGE_CHARS + 1) },
    status: 400,
    param: 'message',
  },
  {
    name: 'a conversationId with a path in it',
    path: '/chat',
    body: { message: 'hi', conversationId: '../other:tenant' },
    status: 400,
    param: 'conversationId',
  },
  {
    name: 'a numeric conversationId',
    path: '/chat',
    body: { message: 'hi', conversationId: 123 },
    status: 400,
    param: 'conversationId',
  },
  {
    name: 'a misspelled field',
    path: '/chat',
    body: { message: 'hi', temprature: 0.5 },
    status: 400,
    param: 'temprature',
  },
  {
    name: 'temperature out of range on /chat',
    path: '/chat',
    body: { message: 'hi', temperature: 9 },
    status: 400,
    param: 'temperature',
  },
  {
    name: 'negative max_tokens on /chat',
    path: '/chat',
    body: { message: 'hi', max_tokens: -1 },
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'a non-string model on /chat',
    path: '/chat',
    body: { message: 'hi', model: ['a'] },
    status: 400,
    param: 'model',
  },
  {
    name: 'a field nested 5000 levels deep',
    path: '/v1/chat/completions',
    raw: `{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"extra":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    status: 400,
    param: /^extra(\[0\])+$/,
  },
];

describe.each(HTTP_PLATFORMS)(
  'bad input → 4xx in OpenAI error shape, never 5xx, never an upstream call, on %s',
  (platform) => {
    let redis: RedisServer;
    let fake: FakeOpenAiServer;
    let bot: TestChatbot;

    beforeAll(async () => {
      redis = await RedisServer.start();
      fake = await new FakeOpenAiServer().start();
      bot = await startChatbot(
        upstreamEnv(redis.url, fake.baseURL, {
          HTTP_PLATFORM: platform,
          BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
          MAX_MESSAGES: String(MAX_MESSAGES),
          MAX_MESSAGE_CHARS: String(MAX_MESSAGE_CHARS),
        }),
      );
    });
    it(`runs on ${platform}`, () => {
      expect(bot.app.getHttpAdapter().getType()).toBe(platform);
    });
    afterAll(async () => {
      await bot?.close();
      await fake?.stop();
      await redis?.stop();
    });

    it('has a table of at least 30 cases', () => {
      expect(cases.length).toBeGreaterThanOrEqual(30);
    });

    it.each(cases.map((c) => [c.name, c] as const))('rejects %s', async (_name, c) => {
      const res = await call(`${bot.url}${c.path}`, { body: c.body, rawBody: c.raw, headers: c.headers });
      expect(res.status).toBe(c.status);
      expect(Object.keys(res.body)).toEqual(['error']);
      const { error } = res.body;
      expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
      expect(error.message.length).toBeGreaterThan(5);
      if (c.param !== undefined) expect(error.param).toEqual(expect.stringMatching(c.param));
      expect(fake.callCount).toBe(0);
    });

    it('says where the JSON broke and how large the body was, in our words, param null', async () => {
      const broken = await call(`${bot.url}/v1/chat/completions`, {
        rawBody: '{\n  "model": "x",\n  oops }',
      });
      expect(broken.status).toBe(400);
      expect(broken.body.error).toEqual({
        message: expect.stringMatching(
          /^We could not parse the JSON body of your request at line 3, column 3: /,
        ),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_json',
      });
      const truncated = await call(`${bot.url}/chat`, { rawBody: '{"message": "hi"' });
      expect(truncated.body.error.message).toMatch(/at line 1, column 17: /);

      const size = BODY_LIMIT_BYTES + 1000;
      const large = await call(`${bot.url}/v1/chat/completions`, { rawBody: `"${'x'.repeat(size - 2)}"` });
      expect(large.status).toBe(413);
      expect(large.body.error).toEqual({
        message: `Request body too large: ${size} bytes, limit is ${BODY_LIMIT_BYTES} bytes.`,
        type: 'invalid_request_error',
        param: null,
        code: 'request_too_large',
      });
    });

    it('refuses a body that is not valid UTF-8 with a 400 in the OpenAI shape, without calling upstream', async () => {
      const before = fake.callCount;
      const body = Buffer.concat([
        Buffer.from('{"model":"fake-model","messages":[{"role":"user","content":"caf'),
        Buffer.from([0xe9]), // Latin-1 é: not UTF-8
        Buffer.from('"}]}'),
      ]);
      const res = await fetch(`${bot.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: { message: string; type: string } };
      expect(json.error).toMatchObject({
        message: expect.stringMatching(/UTF-8/),
        type: 'invalid_request_error',
      });
      expect(fake.callCount).toBe(before);
    });

    it("answers X-Request-Id on every response: the caller's sane id, else a generated one", async () => {
      const responses = [
        await call(`${bot.url}/v1/chat/completions`, {
          body: ok,
          headers: { 'x-request-id': 'client-id-1' },
        }),
        await call(`${bot.url}/v1/chat/completions`, {
          rawBody: '{',
          headers: { 'x-request-id': 'client-id-2' },
        }),
        await call(`${bot.url}/nowhere`, { headers: { 'x-request-id': 'client-id-3' } }),
        await call(`${bot.url}/health/live`, { headers: { 'x-request-id': 'client-id-4' } }),
      ];
      expect(responses.map((r) => r.headers.get('x-request-id'))).toEqual([
        'client-id-1',
        'client-id-2',
        'client-id-3',
        'client-id-4',
      ]);
      const insane = await call(`${bot.url}/health/live`, {
        headers: { 'x-request-id': 'has spaces <and> "quotes"' },
      });
      expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const none = await call(`${bot.url}/health/live`);
      expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers an unknown route with 404 in the same shape', async () => {
      const res = await call(`${bot.url}/v1/embeddings`, { body: { input: 'x' } });
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({
        message: expect.stringContaining('/v1/embeddings'),
        type: 'not_found_error',
      });
    });

    it('still answers a valid request after all of that', async () => {
      const res = await call(`${bot.url}/v1/chat/completions`, { body: ok });
      expect(res.status).toBe(200);
      expect(res.body.choices[0].message.content).toEqual(expect.any(String));
    });
  },
);
