import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  LlmProviderError,
  OpenAiProvider,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type LlmProvider,
} from '@llm-cache/llm';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { chat, collect, createLlmFixture, sleep, within, type LlmFixture } from './llm-fixture.js';

/**
 * The real upstream behind a provider whose first `failures` calls fail after `delayMs` (a leader that breaks while
 * others wait on it). Same identity as the real provider, so it shares keys with it.
 */
class FailingFirstProvider implements LlmProvider {
  readonly name = 'openai';
  calls = 0;
  constructor(
    private readonly real: OpenAiProvider,
    private failures: number,
    private readonly delayMs: number,
  ) {}
  get identity(): string {
    return this.real.identity;
  }
  async complete(req: ChatCompletionRequest): Promise<ChatCompletion> {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      await sleep(this.delayMs);
      throw new LlmProviderError('leader broke', { status: 502 });
    }
    return this.real.complete(req);
  }
  stream(req: ChatCompletionRequest): AsyncIterable<ChatCompletionChunk> {
    return this.real.stream(req);
  }
  listModels(): Promise<string[]> {
    return this.real.listModels();
  }
}

/** The real provider, counting how many of its streams run at the same time. */
class ConcurrencyProbe implements LlmProvider {
  readonly name = 'openai';
  active = 0;
  maxActive = 0;
  constructor(private readonly real: OpenAiProvider) {}
  get identity(): string {
    return this.real.identity;
  }
  complete(req: ChatCompletionRequest): Promise<ChatCompletion> {
    return this.real.complete(req);
  }
  async *stream(
    req: ChatCompletionRequest,
    opts?: { signal?: AbortSignal },
  ): AsyncGenerator<ChatCompletionChunk> {
    this.maxActive = Math.max(this.maxActive, ++this.active);
    try {
      yield* this.real.stream(req, opts);
    } finally {
      this.active--;
    }
  }
  listModels(): Promise<string[]> {
    return this.real.listModels();
  }
}

describe('coalescing of identical misses', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let a: LlmFixture;
  let b: LlmFixture;

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer({ latencyMs: 150, chunkDelayMs: 5 }).start();
    // Two "processes": separate Nest modules, separate Redis clients, separate in-flight maps, one Redis.
    a = await createLlmFixture(upstream, { url: redis.url }, { coalescing: { pollIntervalMs: 10 } });
    b = await createLlmFixture(upstream, { url: redis.url }, { coalescing: { pollIntervalMs: 10 } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await upstream?.stop();
    await redis?.stop();
  });
  beforeEach(async () => {
    await a.llm.clearLlmCache();
    upstream.reset();
  });

  it('makes 50 concurrent identical requests in one process cost exactly one upstream call', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, () => a.llm.generateTextWithCache(chat('herd'))),
    );
    expect(upstream.callCount).toBe(1);
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'coalesced')).toHaveLength(49);
    const texts = new Set(results.map((r) => r.response.choices[0].message.content));
    expect(texts.size).toBe(1);
    expect(results.every((r) => r.cached === (r.status !== 'miss'))).toBe(true);
  });

  it('makes 50 concurrent identical requests across two module instances cost exactly one upstream call', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 ? b : a).llm.generateTextWithCache(chat('cross-process herd')),
      ),
    );
    expect(upstream.callCount).toBe(1);
    expect(results.filter((r) => r.status === 'miss')).toHaveLength(1);
    expect(new Set(results.map((r) => r.response.id)).size).toBe(1);
  });

  it('coalesces streams: followers replay the leader’s complete chunk sequence', async () => {
    const streams = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).llm.streamTextWithCache(chat('stream herd'))),
    );
    const sequences = await Promise.all(streams.map((s) => collect(s.stream)));
    expect(upstream.callCount).toBe(1);
    expect(streams.filter((s) => s.status === 'miss')).toHaveLength(1);
    for (const seq of sequences) expect(seq).toEqual(sequences[0]);
    expect(sequences[0].length).toBeGreaterThan(3);
  });

  it('never hands a failed leader’s error to followers: one of them retries', async () => {
    const flaky = new FailingFirstProvider(a.provider, 1, 100);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => a.llm.generateTextWithCache(chat('flaky leader'), flaky)),
    );
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(LlmProviderError);
    expect(flaky.calls).toBe(2);
    expect(upstream.callCount).toBe(1);
    const ok = results
      .filter((r) => r.status === 'fulfilled')
      .map((r) => (r as PromiseFulfilledResult<{ status: string }>).value);
    expect(ok.filter((r) => r.status === 'miss')).toHaveLength(1);
    expect(ok.filter((r) => r.status === 'coalesced')).toHaveLength(8);
  });

  it('lets a follower in another process take over after the leader fails', async () => {
    const flaky = new FailingFirstProvider(a.provider, 1, 150);
    const leader = a.llm.generateTextWithCache(chat('remote failover'), flaky);
    await sleep(40);
    const follower = b.llm.generateTextWithCache(chat('remote failover'));
    await expect(leader).rejects.toBeInstanceOf(LlmProviderError);
    const result = await follower;
    expect(result.status).toBe('miss');
    expect(upstream.callCount).toBe(1);
  });

  it('bounds a follower’s wait and then calls the provider itself', async () => {
    const impatient = await createLlmFixture(
      upstream,
      { url: redis.url },
      { coalescing: { waitTimeoutMs: 100, pollIntervalMs: 10 } },
    );
    try {
      const slow = chat('slow leader __slow_700__');
      const leader = a.llm.generateTextWithCache(slow);
      await sleep(40);
      const start = Date.now();
      const follower = await impatient.llm.generateTextWithCache(slow);
      // Waited ~100 ms, then its own call (150 + 700 ms upstream): well under the leader's total.
      expect(follower.status).toBe('miss');
      expect(Date.now() - start).toBeLessThan(2500);
      await leader;
      expect(upstream.callCount).toBe(2);
    } finally {
      await impatient.close();
    }
  });

  it('does not let a refresh (no-cache) wait for or join another leader', async () => {
    const [first, refresh] = await Promise.all([
      a.llm.generateTextWithCache(chat('refresh race')),
      a.llm.generateTextWithCache(chat('refresh race'), undefined, { control: { noCache: true } }),
    ]);
    expect(first.status).toBe('miss');
    expect(refresh.status).toBe('refresh');
    expect(upstream.callCount).toBe(2);
  });

  it('hands an answer it may not store (cut off by max_tokens) to its followers: one upstream call, nothing stored', async () => {
    const results = await within(
      Promise.all(
        Array.from({ length: 10 }, () => a.llm.generateTextWithCache(chat('cut short __length__'))),
      ),
      5000,
    );
    expect(upstream.callCount).toBe(1);
    expect(results.filter((r) => r.status === 'miss')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'coalesced')).toHaveLength(9);
    expect(results.every((r) => r.response.choices[0].finish_reason === 'length' && !r.stored)).toBe(true);
    expect(new Set(results.map((r) => r.response.id)).size).toBe(1);
    expect(await a.llm.clearLlmCache()).toBe(0);
  });

  it('hands a streamed answer it may not store to its followers: one upstream call, nothing stored', async () => {
    const streams = await within(
      Promise.all(
        Array.from({ length: 6 }, () => a.llm.streamTextWithCache(chat('stream cut short __length__'))),
      ),
      5000,
    );
    const sequences = await Promise.all(streams.map((s) => collect(s.stream)));
    expect(upstream.callCount).toBe(1);
    expect(streams.filter((s) => s.status === 'coalesced')).toHaveLength(5);
    for (const seq of sequences) expect(seq).toEqual(sequences[0]);
    expect(sequences[0].at(-1)!.choices[0].finish_reason).toBe('length');
    expect(await Promise.all(streams.map((s) => s.storedPromise))).toEqual(Array(6).fill(false));
    expect(await a.llm.clearLlmCache()).toBe(0);
  });

  it('lets followers of a stream too large to capture call the provider together, not one after another', async () => {
    const small = await createLlmFixture(
      upstream,
      { url: redis.url, keyPrefix: 'tiny', maxEntryBytes: 600, compressThresholdBytes: 100_000 },
      { coalescing: { pollIntervalMs: 10 } },
    );
    const probe = new ConcurrencyProbe(small.provider);
    try {
      const request = chat('a stream longer than the capture allows');
      const streams = await within(
        Promise.all(Array.from({ length: 3 }, () => small.llm.streamTextWithCache(request, probe))),
        5000,
      );
      const sequences = await Promise.all(streams.map((s) => collect(s.stream)));
      for (const seq of sequences) expect(seq.at(-1)!.choices[0].finish_reason).toBe('stop');
      expect(upstream.callCount).toBe(3);
      // The leader alone, then both followers at once.
      expect(probe.maxActive).toBe(2);
      expect(streams.map((s) => s.status)).toEqual(['miss', 'miss', 'miss']);
    } finally {
      await small.close();
    }
  });

  it('returns a remote leader’s entry as soon as it is stored, even while its lock is left behind', async () => {
    const patient = await createLlmFixture(
      upstream,
      { url: redis.url },
      { coalescing: { pollIntervalMs: 10, waitTimeoutMs: 5000 } },
    );
    const request = chat('orphaned lock');
    const key = patient.llm.explainCacheKey(request).key;
    const lockKey = key.replace(/^llm:/, 'llm-lock:');
    try {
      // A leader in another process holds the lock (and will never release it: it died, or its caller left).
      expect(await b.cache.set(lockKey, 'another-owner', { ttlMs: 60_000 })).toBe(true);
      const follower = patient.llm.generateTextWithCache(request);
      await sleep(100);
      const completion = await b.provider.complete(request);
      const entry = {
        format: 1,
        createdAtMs: Date.now(),
        upstreamLatencyMs: 150,
        model: completion.model,
        ttlMs: 60_000,
        completion,
      };
      expect(await b.cache.set(key, entry, { ttlMs: 60_000 })).toBe(true);
      const storedAt = Date.now();
      const result = await follower;
      expect(Date.now() - storedAt).toBeLessThan(1000);
      expect(result.status).toBe('coalesced');
      expect(result.response).toEqual(completion);
      expect(upstream.callCount).toBe(1);
    } finally {
      await b.cache.delete(lockKey);
      await patient.close();
    }
  });

  it('removes a lock whose SET timed out once Redis answers again, so nobody waits on a lock no one owns', async () => {
    const hung = await RedisServer.start();
    const fx = await createLlmFixture(upstream, {
      url: hung.url,
      commandTimeoutMs: 100,
      breaker: { failureThreshold: 100, resetTimeoutMs: 1000 },
    });
    try {
      hung.pause();
      const start = Date.now();
      expect(await fx.cache.acquireLock('llm-lock:orphan', 60_000)).toEqual({ status: 'unavailable' });
      expect(Date.now() - start).toBeLessThan(1000);
      hung.resume();
      // The SET is applied late, then the DEL that follows it; both on the same connection, in order.
      let exists: boolean | undefined = true;
      for (let i = 0; i < 50 && exists !== false; i++) {
        await sleep(20);
        exists = await fx.cache.exists('llm-lock:orphan');
      }
      expect(exists).toBe(false);
    } finally {
      hung.resume();
      await fx.close();
      await hung.stop();
    }
  });

  it('keeps the upstream call going for followers when the leader’s client aborts, and stores the answer', async () => {
    const request = chat('the leader leaves __slow_300__');
    const controller = new AbortController();
    const leader = a.llm.generateTextWithCache(request, undefined, { signal: controller.signal });
    await sleep(50);
    const followers = Promise.all([1, 2, 3].map(() => a.llm.generateTextWithCache(request)));
    await sleep(50);
    const abortedAt = Date.now();
    controller.abort();
    await expect(leader).rejects.toMatchObject({ status: 408 });
    // The leader's caller is answered at once, not when the upstream is done (~350 ms later).
    expect(Date.now() - abortedAt).toBeLessThan(250);
    const results = await within(followers, 5000);
    expect(results.map((r) => r.status)).toEqual(['coalesced', 'coalesced', 'coalesced']);
    expect(upstream.callCount).toBe(1);
    expect((await a.llm.generateTextWithCache(request)).status).toBe('hit');
  });

  it('still cancels the upstream call when the leader’s client aborts and nobody waits for it', async () => {
    const request = chat('alone and leaving __slow_300__');
    const controller = new AbortController();
    const lone = a.llm.generateTextWithCache(request, undefined, { signal: controller.signal });
    await sleep(50);
    controller.abort();
    await expect(lone).rejects.toMatchObject({ status: 408 });
    await sleep(700);
    expect(upstream.callCount).toBe(1);
    expect(await a.llm.clearLlmCache()).toBe(0);
  });

  it('lets a streamed leader’s client abort or stop reading without cancelling the stream its followers wait for', async () => {
    upstream.chunkDelayMs = 30;
    try {
      for (const leave of ['abort', 'stop reading'] as const) {
        upstream.reset();
        const request = chat(`the stream leader leaves: ${leave}`);
        const controller = new AbortController();
        const leader = await a.llm.streamTextWithCache(request, undefined, { signal: controller.signal });
        const followers = Promise.all([1, 2].map(() => a.llm.streamTextWithCache(request)));
        await sleep(30);
        if (leave === 'abort') {
          controller.abort();
          await expect(collect(leader.stream)).rejects.toMatchObject({ status: 408 });
        } else {
          for await (const _chunk of leader.stream) break;
        }
        const streams = await within(followers, 5000);
        const sequences = await Promise.all(streams.map((f) => collect(f.stream)));
        expect(streams.map((f) => f.status)).toEqual(['coalesced', 'coalesced']);
        expect(sequences[0].at(-1)!.choices[0].finish_reason).toBe('stop');
        expect(sequences[1]).toEqual(sequences[0]);
        expect(await leader.storedPromise).toBe(true);
        expect(upstream.callCount).toBe(1);
      }
    } finally {
      upstream.chunkDelayMs = 5;
    }
  });
});
