import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  LlmProviderError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type LlmProvider,
} from '@llm-cache/llm';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { chat, collect, createLlmFixture, within, type LlmFixture } from './llm-fixture.js';
import { setTimeout as sleep } from 'node:timers/promises';

const text = (chunks: ChatCompletionChunk[]) =>
  chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');

/** Streams two chunks, the second with a `finish_reason` that throws when read (what no codec expects). */
class TreacherousProvider implements LlmProvider {
  readonly name = 'treacherous';
  readonly identity = 'treacherous:1';
  calls = 0;
  complete(): Promise<ChatCompletion> {
    throw new Error('not used');
  }
  async *stream(_req: ChatCompletionRequest): AsyncGenerator<ChatCompletionChunk> {
    this.calls++;
    const base = { id: 'x', object: 'chat.completion.chunk' as const, created: 0, model: 'm' };
    yield {
      ...base,
      choices: [{ index: 0, delta: { role: 'assistant', content: 'hi' }, finish_reason: null }],
    };
    await sleep(50);
    const choice = { index: 0, delta: {} } as ChatCompletionChunk['choices'][number];
    Object.defineProperty(choice, 'finish_reason', {
      enumerable: false,
      get() {
        throw new TypeError('finish_reason exploded');
      },
    });
    yield { ...base, choices: [choice] };
  }
  async listModels(): Promise<string[]> {
    return [];
  }
}

describe('streamTextWithCache', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let fx: LlmFixture;

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer({ latencyMs: 10, chunkDelayMs: 2 }).start();
    fx = await createLlmFixture(upstream, { url: redis.url });
  });
  afterAll(async () => {
    await fx?.close();
    await upstream?.stop();
    await redis?.stop();
  });
  beforeEach(async () => {
    await fx.llm.clearLlmCache();
    upstream.reset();
  });

  it('streams a miss to the caller, stores it on a clean end and replays it chunk-for-chunk', async () => {
    const miss = await fx.llm.streamTextWithCache(chat('stream me', { stream: true }));
    expect(miss).toMatchObject({ status: 'miss', cached: false });
    const live = await collect(miss.stream);
    expect(await miss.storedPromise).toBe(true);
    expect(live[0].choices[0].delta.role).toBe('assistant');
    expect(live.at(-1)!.choices[0].finish_reason).toBe('stop');
    // The client did not ask for usage: neither the usage chunk nor `usage` members reach it.
    expect(live.some((c) => 'usage' in c)).toBe(false);

    const hit = await fx.llm.streamTextWithCache(chat('stream me', { stream: true }));
    expect(hit).toMatchObject({ status: 'hit', cached: true });
    expect(await collect(hit.stream)).toEqual(live);
    expect(upstream.callCount).toBe(1);
    // The upstream was asked for usage so hits can count tokens saved.
    expect(upstream.calls[0].body.stream_options).toEqual({ include_usage: true });
  });

  it('replays the usage chunk to a client that asks for it', async () => {
    const miss = await fx.llm.streamTextWithCache(
      chat('usage please', { stream: true, stream_options: { include_usage: true } }),
    );
    const live = await collect(miss.stream);
    expect(live.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });
    const hit = await fx.llm.streamTextWithCache(
      chat('usage please', { stream: true, stream_options: { include_usage: true } }),
    );
    expect(await collect(hit.stream)).toEqual(live);
    const withoutUsage = await collect(
      (await fx.llm.streamTextWithCache(chat('usage please', { stream: true }))).stream,
    );
    expect(withoutUsage).toHaveLength(live.length - 1);
  });

  it('replays tool-call deltas exactly', async () => {
    const live = await collect(
      (await fx.llm.streamTextWithCache(chat('weather? __tool__', { stream: true }))).stream,
    );
    const replay = await collect(
      (await fx.llm.streamTextWithCache(chat('weather? __tool__', { stream: true }))).stream,
    );
    expect(replay).toEqual(live);
    expect(replay.filter((c) => c.choices[0]?.delta?.tool_calls).length).toBeGreaterThan(2);
    expect(upstream.callCount).toBe(1);
  });

  it('serves a plain request from a stream entry and a stream from a plain entry', async () => {
    const streamed = await fx.llm.streamTextWithCache(chat('cross kinds A'));
    const chunks = await collect(streamed.stream);
    await streamed.storedPromise;
    const plain = await fx.llm.generateTextWithCache(chat('cross kinds A'));
    expect(plain.status).toBe('hit');
    expect(plain.response.choices[0].message.content).toBe(text(chunks));
    expect(plain.response.usage!.total_tokens).toBeGreaterThan(0);

    const first = await fx.llm.generateTextWithCache(chat('cross kinds B'));
    const replay = await fx.llm.streamTextWithCache(chat('cross kinds B'));
    expect(replay.status).toBe('hit');
    expect(text(await collect(replay.stream))).toBe(first.response.choices[0].message.content);
    expect(upstream.callCount).toBe(2);
  });

  it('stores nothing when the upstream sends an error mid-stream', async () => {
    const r = await fx.llm.streamTextWithCache(chat('break __stream_error__'));
    const seen: ChatCompletionChunk[] = [];
    await expect(
      (async () => {
        for await (const c of r.stream) seen.push(c);
      })(),
    ).rejects.toBeInstanceOf(LlmProviderError);
    expect(seen.length).toBe(2);
    expect(await r.storedPromise).toBe(false);
    expect((await fx.llm.streamTextWithCache(chat('break __stream_error__'))).status).toBe('miss');
  });

  it('stores nothing when the upstream connection is cut mid-stream', async () => {
    const r = await fx.llm.streamTextWithCache(chat('cut __stream_cut__'));
    await expect(collect(r.stream)).rejects.toBeInstanceOf(LlmProviderError);
    expect(await r.storedPromise).toBe(false);
    expect(await fx.llm.clearLlmCache()).toBe(0);
  });

  it('stores nothing and cancels the upstream when the caller stops reading or aborts', async () => {
    const r = await fx.llm.streamTextWithCache(
      chat('I will leave early, this answer is long enough to stream in chunks'),
    );
    for await (const _c of r.stream) break;
    expect(await r.storedPromise).toBe(false);

    const controller = new AbortController();
    const aborted = await fx.llm.streamTextWithCache(chat('abort me'), undefined, {
      signal: controller.signal,
    });
    controller.abort();
    await expect(collect(aborted.stream)).rejects.toMatchObject({ status: 408 });
    expect(await aborted.storedPromise).toBe(false);
    expect(await fx.llm.clearLlmCache()).toBe(0);
  });

  it('rejects before the first chunk with the upstream’s status', async () => {
    await expect(fx.llm.streamTextWithCache(chat('nope __status_429__'))).rejects.toMatchObject({
      status: 429,
    });
    await expect(fx.llm.streamTextWithCache(chat('nope __status_401__'))).rejects.toMatchObject({
      status: 502,
      code: 'upstream_auth_failed',
    });
  });

  it('gives up a stream silent for coalescing.lockTtlMs after its first chunks (504) and frees the key', async () => {
    const capped = await createLlmFixture(
      upstream,
      { url: redis.url, keyPrefix: 'capped' },
      { coalescing: { lockTtlMs: 600, pollIntervalMs: 10 } },
    );
    try {
      const request = chat('hang on __stall_after_2__');
      const start = Date.now();
      const leader = await capped.llm.streamTextWithCache(request);
      const follower = capped.llm.streamTextWithCache(request);
      const seen: ChatCompletionChunk[] = [];
      const err = await within(
        (async () => {
          for await (const c of leader.stream) seen.push(c);
        })(),
        5000,
      ).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 504, code: 'upstream_timeout' });
      expect(seen).toHaveLength(2);
      expect(Date.now() - start).toBeLessThan(3000);
      expect(await leader.storedPromise).toBe(false);
      // The follower is released when the leader gives up, and leads its own (just as stalled) attempt.
      const next = await within(follower, 3000);
      expect(next.status).toBe('miss');
      await expect(within(collect(next.stream), 5000)).rejects.toMatchObject({ status: 504 });
      expect(upstream.callCount).toBe(2);
    } finally {
      await capped.close();
    }
  });

  it('relays a stream that outgrows maxEntryBytes in full and stores nothing', async () => {
    const small = await createLlmFixture(upstream, {
      url: redis.url,
      keyPrefix: 'small',
      maxEntryBytes: 600,
      compressThresholdBytes: 100_000,
    });
    try {
      const r = await small.llm.streamTextWithCache(chat('an answer bigger than the tiny capture'));
      const live = await collect(r.stream);
      expect(live.length).toBeGreaterThan(10);
      expect(live.at(-1)!.choices[0].finish_reason).toBe('stop');
      expect(text(live)).toMatch(/^You said: an answer bigger than the tiny capture\./);
      expect(await r.storedPromise).toBe(false);
      expect(
        (await small.llm.streamTextWithCache(chat('an answer bigger than the tiny capture'))).status,
      ).toBe('miss');
    } finally {
      await small.close();
    }
  });

  it('never rejects storedPromise and releases its followers even when the capture cannot be read', async () => {
    const treacherous = new TreacherousProvider();
    const leader = await fx.llm.streamTextWithCache(chat('odd chunks'), treacherous);
    const follower = fx.llm.streamTextWithCache(chat('odd chunks'), treacherous);
    await collect(leader.stream);
    await expect(within(leader.storedPromise, 2000)).resolves.toBe(false);
    // Released at once (not after coalescing.waitTimeoutMs): it leads its own attempt.
    const next = await within(follower, 2000);
    expect(next.status).toBe('miss');
    await collect(next.stream);
    await next.storedPromise;
    expect(treacherous.calls).toBe(2);
  });

  it('answers a malformed 200 from the upstream with a 502 before the first byte, and stores nothing', async () => {
    await expect(fx.llm.streamTextWithCache(chat('__malformed__'))).rejects.toMatchObject({
      status: 502,
      message: 'upstream returned a malformed response',
    });
    await expect(
      fx.llm.streamTextWithCache(chat('__malformed__'), undefined, { useCache: false }),
    ).rejects.toMatchObject({ status: 502 });
    expect(await fx.llm.clearLlmCache()).toBe(0);
  });
});
