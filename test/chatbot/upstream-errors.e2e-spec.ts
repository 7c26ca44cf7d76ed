/**
 * The server's own upstream key rejected (401/403 from the provider) is the operator's problem, not the caller's:
 * 502 `upstream_auth_failed`, never a 401. Every upstream failure is logged with the request id the client sent,
 * the tenant and the model, never the prompt or a key. Real chatbot, real HTTP, real Redis, fake upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createChatbotApp } from '../../apps/chatbot/src/app.factory.js';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { LogCapture } from '../harness/log-capture.js';
import { RedisServer } from '../harness/redis-server.js';
import { call, testMetricsExporter, upstreamEnv } from './chatbot-test-app.js';

const KEY = 'acme-key-0123456789abcdef';

describe('upstream failures through the chatbot', () => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let app: INestApplication;
  let url: string;
  const logs = new LogCapture();

  beforeAll(async () => {
    redis = await RedisServer.start();
    // The upstream wants another key than the one the chatbot is configured with (LLM_API_KEY=sk-upstream-test).
    fake = await new FakeOpenAiServer({ apiKey: 'sk-the-right-one' }).start();
    app = await createChatbotApp({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        ...upstreamEnv(redis.url, fake.baseURL, { CHATBOT_API_KEYS: `acme:${KEY}` }),
      },
      metricsExporter: testMetricsExporter(),
      logger: logs,
    });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await fake?.stop();
    await redis?.stop();
  });

  it.each(['/v1/chat/completions', '/chat'])(
    '%s: a rejected server key is 502 upstream_auth_failed, logged with the request id, without prompt or key',
    async (path) => {
      logs.clear();
      const prompt = `a private question ${path}`;
      const body =
        path === '/chat'
          ? { message: prompt }
          : { model: 'fake-model', messages: [{ role: 'user', content: prompt }] };
      const res = await call(`${url}${path}`, {
        body,
        headers: { authorization: `Bearer ${KEY}`, 'x-request-id': `req-${path.length}` },
      });
      expect(res.status).toBe(502);
      expect(res.body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_auth_failed' });
      const lines = logs.matching(/^upstream call failed: /, 'LlmUpstream');
      expect(lines).toHaveLength(1);
      expect(lines[0].message).toMatch(
        new RegExp(
          `status=502 code=upstream_auth_failed upstream_status=401 model=fake-model tenant=acme request_id=req-${path.length} duration_ms=\\d+`,
        ),
      );
      const text = logs.text();
      expect(text).not.toContain('private question');
      expect(text).not.toContain('sk-upstream-test');
      expect(text).not.toContain(KEY);
    },
  );
});
