import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LlmProviderError, OpenAiProvider, assembleCompletion } from '@llm-cache/llm';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { freePort } from '../harness/redis-server.js';
import { chat, collect, within } from './llm-fixture.js';

describe('OpenAiProvider on the official SDK against a real OpenAI-compatible server', () => {
  let upstream: FakeOpenAiServer;
  let provider: OpenAiProvider;

  beforeAll(async () => {
    upstream = await new FakeOpenAiServer({ apiKey: 'right-key' }).start();
    provider = new OpenAiProvider({
      apiKey: 'right-key',
      baseURL: upstream.baseURL,
      maxRetries: 0,
      timeoutMs: 5000,
    });
  });
  afterAll(async () => {
    await upstream?.stop();
  });

  it('completes, streams and lists models; identity names the base URL', async () => {
    const completion = await provider.complete(chat('hi'));
    expect(completion.choices[0].message.content).toContain('You said: hi');
    const chunks = await collect(provider.stream(chat('hi')));
    expect(assembleCompletion(chunks).choices[0].message.content).toBe(completion.choices[0].message.content);
    expect(await provider.listModels()).toEqual(['fake-model']);
    expect(provider.identity).toBe(`openai:${upstream.baseURL}`);
    expect(upstream.calls.at(-1)!.authorization).toBe('Bearer right-key');
  });

  it.each([
    [400, 400],
    [404, 404],
    [429, 429],
    [500, 502],
    [503, 502],
  ])('maps an upstream %i to LlmProviderError %i', async (upstreamStatus, status) => {
    const err = await provider.complete(chat(`__status_${upstreamStatus}__`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmProviderError);
    expect(err).toMatchObject({ status });
    expect((err as Error).message).toMatch(String(upstreamStatus));
    const streamErr = await collect(provider.stream(chat(`__status_${upstreamStatus}__`))).catch(
      (e: unknown) => e,
    );
    expect(streamErr).toMatchObject({ status });
  });

  it('maps the server’s own rejected API key (401/403) to 502 upstream_auth_failed, never a 401 that blames the caller', async () => {
    const wrong = new OpenAiProvider({
      apiKey: 'sk-wrong-key-1234',
      baseURL: upstream.baseURL,
      maxRetries: 0,
    });
    for (const attempt of [wrong.complete(chat('x')), collect(wrong.stream(chat('x')))]) {
      const err = await attempt.catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 502, type: 'upstream_error', code: 'upstream_auth_failed' });
      expect((err as Error).message).not.toContain('sk-wrong');
    }
    for (const status of [401, 403]) {
      await expect(provider.complete(chat(`__status_${status}__`))).rejects.toMatchObject({
        status: 502,
        code: 'upstream_auth_failed',
      });
    }
  });

  it('maps connection refused to 502 and a timeout to 504', async () => {
    const port = await freePort();
    const nowhere = new OpenAiProvider({
      apiKey: 'k',
      baseURL: `http://127.0.0.1:${port}/v1`,
      maxRetries: 0,
    });
    await expect(nowhere.complete(chat('x'))).rejects.toMatchObject({
      status: 502,
      code: 'upstream_unreachable',
    });
    const impatient = new OpenAiProvider({
      apiKey: 'right-key',
      baseURL: upstream.baseURL,
      maxRetries: 0,
      timeoutMs: 100,
    });
    const start = Date.now();
    await expect(impatient.complete(chat('x __slow_1000__'))).rejects.toMatchObject({ status: 504 });
    expect(Date.now() - start).toBeLessThan(900);
  });

  it('times out a stream that goes silent between chunks (504), but not a long one that keeps talking', async () => {
    const idle = new OpenAiProvider({
      apiKey: 'right-key',
      baseURL: upstream.baseURL,
      maxRetries: 0,
      timeoutMs: 300,
    });
    const start = Date.now();
    const seen: unknown[] = [];
    const err = await within(
      (async () => {
        for await (const c of idle.stream(chat('__stall_after_2__'))) seen.push(c);
      })(),
      5000,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmProviderError);
    expect(err).toMatchObject({ status: 504, code: 'upstream_timeout' });
    expect(seen).toHaveLength(2);
    expect(Date.now() - start).toBeLessThan(2000);

    const talkative = await new FakeOpenAiServer({ apiKey: 'right-key', chunkDelayMs: 60 }).start();
    try {
      const patient = new OpenAiProvider({
        apiKey: 'right-key',
        baseURL: talkative.baseURL,
        maxRetries: 0,
        timeoutMs: 300,
      });
      const t0 = Date.now();
      const chunks = await collect(patient.stream(chat('a long answer that keeps on coming')));
      // Far longer than timeoutMs overall, never silent for that long.
      expect(Date.now() - t0).toBeGreaterThan(600);
      expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    } finally {
      await talkative.stop();
    }
  });

  it('maps a mid-stream error event to 502', async () => {
    await expect(collect(provider.stream(chat('__stream_error__')))).rejects.toMatchObject({ status: 502 });
  });

  it('refuses to start without an API key', () => {
    expect(() => new OpenAiProvider({ apiKey: '' })).toThrow(/apiKey/);
  });
});
