import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import OpenAI from 'openai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { HTTP_PLATFORMS } from '../harness/http-platform.js';
import { call, sleep, startChatbot, upstreamEnv, waitFor, type TestChatbot } from './chatbot-test-app.js';

const KEY = 'key-sdk-tenant-01';

describe.each(HTTP_PLATFORMS)('OpenAI-compatible API with the official openai SDK on %s', (platform) => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  let client: OpenAI;
  /** Upstream responses by request, to see whether the app hung up on one before it finished. */
  const upstreamResponses: Array<{ finished: boolean; closed: boolean }> = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    (fake as unknown as { server: import('node:http').Server }).server.on(
      'request',
      (_req: IncomingMessage, res: ServerResponse) => {
        const entry = { finished: false, closed: false };
        upstreamResponses.push(entry);
        res.on('finish', () => (entry.finished = true));
        res.on('close', () => (entry.closed = true));
      },
    );
    bot = await startChatbot(
      upstreamEnv(redis.url, fake.baseURL, { CHATBOT_API_KEYS: `sdk:${KEY}`, HTTP_PLATFORM: platform }),
    );
    client = new OpenAI({ apiKey: KEY, baseURL: `${bot.url}/v1`, maxRetries: 0, timeout: 15_000 });
  });
  it(`runs on ${platform}`, () => {
    expect(bot.app.getHttpAdapter().getType()).toBe(platform);
  });
  afterAll(async () => {
    await bot?.close();
    await fake?.stop();
    await redis?.stop();
  });
  beforeEach(() => {
    fake.reset();
    fake.chunkDelayMs = 0;
    upstreamResponses.length = 0;
  });

  const ask = (content: string, extra: Record<string, unknown> = {}) => ({
    model: 'fake-model',
    messages: [{ role: 'user' as const, content }],
    ...extra,
  });

  it('answers a non-streamed completion and serves the repeat from the cache', async () => {
    const first = await client.chat.completions.create(ask('sdk non-streamed'));
    expect(first.choices[0].message.content).toContain('sdk non-streamed');
    expect(first.usage?.total_tokens).toBeGreaterThan(0);

    const { data: second, response } = await client.chat.completions
      .create(ask('sdk non-streamed'))
      .withResponse();
    expect(second.choices[0].message.content).toBe(first.choices[0].message.content);
    expect(response.headers.get('x-cache')).toBe('HIT');
    expect(response.headers.get('age')).not.toBeNull();
    expect(fake.callCount).toBe(1);
  });

  it('streams a completion as SSE ending in [DONE], then replays it from the cache', async () => {
    const collect = async () => {
      const stream = await client.chat.completions.create({ ...ask('sdk streamed'), stream: true });
      let text = '';
      let finish: string | null = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      return { text, finish };
    };
    const first = await collect();
    expect(first.text).toContain('sdk streamed');
    expect(first.finish).toBe('stop');
    // The entry is written when the stream ends; allow the write to land.
    await sleep(50);
    const second = await collect();
    expect(second).toEqual(first);
    expect(fake.callCount).toBe(1);

    const raw = await fetch(`${bot.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask('sdk streamed'), stream: true }),
    });
    expect(raw.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(raw.headers.get('x-cache')).toBe('HIT');
    const text = await raw.text();
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(fake.callCount).toBe(1);
  });

  it("passes a streamed hit through the SDK's strict .stream() helper (finalChatCompletion)", async () => {
    const run = () => client.chat.completions.stream(ask('helper stream')).finalChatCompletion();
    const miss = await run();
    await sleep(50);
    const hit = await run();
    expect(fake.callCount).toBe(1);
    expect(hit.choices[0].message.content).toBe(miss.choices[0].message.content);
    expect(hit.choices[0].finish_reason).toBe('stop');
    expect(hit.choices[0].message.role).toBe('assistant');
  });

  it('answers a non-streamed request from an entry stored by a streamed one, and the other way round', async () => {
    const streamed = await client.chat.completions.stream(ask('cross mode 1')).finalChatCompletion();
    await sleep(50);
    const plain = await client.chat.completions.create(ask('cross mode 1'));
    expect(plain.choices[0].message.content).toBe(streamed.choices[0].message.content);

    const plain2 = await client.chat.completions.create(ask('cross mode 2'));
    const streamed2 = await client.chat.completions.stream(ask('cross mode 2')).finalChatCompletion();
    expect(streamed2.choices[0].message.content).toBe(plain2.choices[0].message.content);
    expect(fake.callCount).toBe(2);
  });

  it('caches tool calls and replays them', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const first = await client.chat.completions.create(ask('weather? __tool__', { tools }));
    const second = await client.chat.completions
      .stream(ask('weather? __tool__', { tools }))
      .finalChatCompletion();
    const call = first.choices[0].message.tool_calls?.[0] as {
      function: { name: string; arguments: string };
    };
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris', unit: 'celsius' });
    expect(second.choices[0].message.tool_calls?.[0]).toMatchObject({ function: call.function });
    expect(second.choices[0].finish_reason).toBe('tool_calls');
    expect(fake.callCount).toBe(1);
  });

  it('lists the served models on GET /v1/models', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain('fake-model');
  });

  it.each([
    ['__status_429__', 429, OpenAI.RateLimitError],
    ['__status_500__', 502, OpenAI.InternalServerError],
    ['__status_503__', 502, OpenAI.InternalServerError],
  ])('maps upstream %s to %i with its message, and caches nothing', async (marker, status, ErrorClass) => {
    const attempt = () => client.chat.completions.create(ask(`fail ${marker}`));
    const err = (await attempt().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(ErrorClass);
    expect(err.status).toBe(status);
    expect(err.message).toMatch(/upstream says/);
    await attempt().catch(() => undefined);
    expect(fake.callCount).toBe(2);
  });

  it('maps an upstream timeout to 504', async () => {
    const slowBot = await startChatbot(
      upstreamEnv(redis.url, fake.baseURL, {
        LLM_TIMEOUT_MS: '300',
        CACHE_PREFIX: 'slow',
        HTTP_PLATFORM: platform,
      }),
    );
    try {
      const res = await call(`${slowBot.url}/v1/chat/completions`, { body: ask('too slow __slow_1000__') });
      expect(res.status).toBe(504);
      expect(res.body.error).toMatchObject({ message: expect.any(String), type: 'timeout' });
    } finally {
      await slowBot.close();
    }
  });

  it('maps an unreachable upstream to 502', async () => {
    const deadBot = await startChatbot(
      upstreamEnv(redis.url, 'http://127.0.0.1:1/v1', { CACHE_PREFIX: 'dead', HTTP_PLATFORM: platform }),
    );
    try {
      const res = await call(`${deadBot.url}/v1/chat/completions`, { body: ask('anyone there?') });
      expect(res.status).toBe(502);
      expect(res.body.error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
    } finally {
      await deadBot.close();
    }
  });

  it.each(['__stream_error__', '__stream_cut__'])(
    'turns an upstream stream that breaks after the first bytes (%s) into an SDK error, and stores nothing',
    async (marker) => {
      const run = async () => {
        const stream = await client.chat.completions.create({ ...ask(`break ${marker}`), stream: true });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        return text;
      };
      await expect(run()).rejects.toBeInstanceOf(OpenAI.APIError);
      await sleep(50);
      await expect(run()).rejects.toBeInstanceOf(OpenAI.APIError);
      expect(fake.callCount).toBe(2);
    },
  );

  it('answers a streamed request that fails upstream before the first byte with the mapped status', async () => {
    const err = (await client.chat.completions
      .create({ ...ask('stream refused __status_429__'), stream: true })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.message).toMatch(/upstream says 429/);
  });

  it('replays usage on a streamed hit when stream_options.include_usage asks for it', async () => {
    const run = async () => {
      const stream = await client.chat.completions.create({
        ...ask('usage please'),
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage: unknown;
      for await (const chunk of stream) usage = chunk.usage ?? usage;
      return usage;
    };
    const miss = await run();
    await sleep(50);
    const hit = await run();
    expect(miss).toMatchObject({ total_tokens: expect.any(Number) });
    expect(hit).toEqual(miss);
    expect(fake.callCount).toBe(1);
  });

  it('aborts the upstream call when the client disconnects mid-stream, and stores nothing', async () => {
    fake.chunkDelayMs = 100;
    const controller = new AbortController();
    const res = await fetch(`${bot.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask('disconnect me please'), stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk arrived: the upstream stream is open
    controller.abort();
    expect(await waitFor(() => upstreamResponses[0]?.closed === true, 3000)).toBe(true);
    // The fake needs ~1.5 s for the whole answer at 100 ms a chunk; the app hung up long before the end.
    expect(upstreamResponses[0].finished).toBe(false);
    fake.chunkDelayMs = 0;
    const again = await call(`${bot.url}/v1/chat/completions`, {
      body: { ...ask('disconnect me please'), stream: false },
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(again.headers.get('x-cache')).toBe('MISS');
    expect(fake.callCount).toBe(2);
  });

  it('serves a repeated GET /v1/models from the cache without asking the upstream again', async () => {
    const get = () => fetch(`${bot.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    const first = await get();
    expect(first.status).toBe(200);
    const upstreamCalls = upstreamResponses.length;
    const second = await get();
    expect(second.status).toBe(200);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(await second.json()).toEqual(await first.json());
    expect(upstreamResponses.length).toBe(upstreamCalls);
  });
});
