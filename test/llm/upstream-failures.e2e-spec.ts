/**
 * Every upstream failure is logged once per call (status, model, tenant, request id, duration — never the prompt
 * or a key) and rate-limited, through the real LlmCacheService, the real openai SDK and a real HTTP upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
// Internal to the lib (not in its barrel): imported by path, the same module instance the lib uses.
import { LlmRequestContext } from '../../libs/llm/src/llm-request.context.js';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { LogCapture } from '../harness/log-capture.js';
import { RedisServer } from '../harness/redis-server.js';
import { chat, collect, createLlmFixture, type LlmFixture } from './llm-fixture.js';

describe('upstream failures in the log', () => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let fx: LlmFixture;
  const logs = new LogCapture();

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer().start();
    fx = await createLlmFixture(upstream, { url: redis.url, keyPrefix: 'uf' });
    // After the testing module set its own logger: the service's loggers write through the static one.
    Logger.overrideLogger(logs);
  });
  afterAll(async () => {
    await fx?.close();
    await upstream?.stop();
    await redis?.stop();
  });

  it('logs a failed call with status, model, tenant, request id and duration, never the prompt', async () => {
    logs.clear();
    const prompt = 'my secret prompt 7f3a __status_500__';
    const err = await LlmRequestContext.run({ tenant: 'acme', requestId: 'req-42' }, () =>
      fx.llm.generateTextWithCache(chat(prompt)),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502 });
    const lines = logs.matching(/^upstream call failed/, 'LlmUpstream');
    expect(lines).toHaveLength(1);
    expect(lines[0].message).toMatch(
      /^upstream call failed: status=502 code=server_error upstream_status=500 model=gpt-4o-mini tenant=acme request_id=req-42 duration_ms=\d+: /,
    );
    expect(logs.text()).not.toContain('secret prompt');
  });

  it('logs a stream that fails mid-way, and the server’s rejected key as upstream_auth_failed without the key', async () => {
    logs.clear();
    const r = await fx.llm.streamTextWithCache(chat('break please __stream_error__'), undefined, {
      tenant: 'beta',
    });
    await expect(collect(r.stream)).rejects.toMatchObject({ status: 502 });
    expect(logs.matching(/^upstream call failed: status=502 .*tenant=beta/)).toHaveLength(1);

    upstream.apiKey = 'the-right-key';
    try {
      const err = await fx.llm.generateTextWithCache(chat('who am i')).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 502, code: 'upstream_auth_failed' });
      expect(logs.matching(/code=upstream_auth_failed upstream_status=401/)).toHaveLength(1);
      expect(logs.text()).not.toContain('test-key');
    } finally {
      upstream.apiKey = undefined;
    }
  });

  it('does not flood the log during an outage: the first 5 failures of a window, the rest counted', async () => {
    // A fresh service: its rate-limit window starts with this outage.
    const fresh = await createLlmFixture(upstream, { url: redis.url, keyPrefix: 'uf2' });
    Logger.overrideLogger(logs);
    logs.clear();
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          fresh.llm.generateTextWithCache(chat(`outage ${i} __status_503__`)),
        ),
      );
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      expect(upstream.callCount).toBeGreaterThanOrEqual(40);
      expect(logs.matching(/^upstream call failed: status=502/, 'LlmUpstream')).toHaveLength(5);
    } finally {
      await fresh.close();
    }
  });
});
