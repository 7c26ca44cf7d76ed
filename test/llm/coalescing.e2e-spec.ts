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
import { chat, collect, createLlmFixture, type LlmFixture } from './llm-fixture.js';

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
      await new Promise((r) => setTimeout(r, this.delayMs));
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
    await new Promise((r) => setTimeout(r, 40));
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
      await new Promise((r) => setTimeout(r, 40));
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
});
