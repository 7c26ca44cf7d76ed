import { stripVTControlCharacters } from 'node:util';
/**
 * The built app as users run it (`npm start` = build + `node dist/apps/chatbot/main.js`), in a child process with a
 * clean environment: a fresh machine with nothing configured, an invalid configuration, an upstream timeout under a
 * real Node realm, and SIGTERM with a request in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import OpenAI from 'openai';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { buildChatbot, killChatbotProcesses, startChatbotProcess } from '../harness/chatbot-process.js';
import { call, waitFor } from './chatbot-test-app.js';

const startMain = (env: Record<string, string>, expectListening = true) =>
  startChatbotProcess(env, { expectListening });

/** `promise`, or a rejection after `ms`; the timer never outlives the race. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the built app (npm start)', () => {
  let fake: FakeOpenAiServer;

  beforeAll(async () => {
    // `npm run build` for the chatbot (and the libs it references), as `npm start` does.
    buildChatbot();
    fake = await new FakeOpenAiServer().start();
  }, 150_000);

  afterAll(async () => {
    killChatbotProcesses();
    await fake?.stop();
  });

  it('serves the chatbot on a fresh machine with nothing configured (in-memory cache, mock provider)', async () => {
    const app = await startMain({});
    try {
      expect(app.output()).toContain(`listening on http://localhost:`);
      expect(app.output()).toMatch(/REDIS_URL=redis:\/\//);
      expect(app.output()).toMatch(/MOCK provider/);
      expect(app.output()).toMatch(/OPEN DEV MODE/);

      expect((await call(`${app.url}/health/live`)).status).toBe(200);
      const ready = await call(`${app.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body.info.redis.mode).toBe('memory');

      const first = await call(`${app.url}/chat`, { body: { message: 'Hello' } });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({
        reply: expect.stringContaining('Hello'),
        cached: false,
        model: expect.stringContaining('mock'),
      });
      const second = await call(`${app.url}/chat`, { body: { message: 'Hello' } });
      expect(second.body.cached).toBe(true);
      expect(second.headers.get('x-cache')).toBe('HIT');

      const client = new OpenAI({ apiKey: 'anything', baseURL: `${app.url}/v1`, maxRetries: 0 });
      const streamed = await client.chat.completions
        .stream({
          model: 'mock-gpt',
          messages: [{ role: 'user', content: 'stream from the mock' }],
        })
        .finalChatCompletion();
      expect(streamed.choices[0].message.content).toContain('stream from the mock');
      const models = await client.models.list();
      expect(models.data.map((m) => m.id)).toContain('mock-gpt');
    } finally {
      app.proc.kill('SIGTERM');
      await app.exited;
    }
  });

  it('exits with a message naming the variable when the configuration is invalid', async () => {
    const app = await startMain({ PORT: 'not-a-port', LLM_PROVIDER: 'anthropic' }, false);
    const { code } = await within(app.exited, 15_000, 'did not exit');
    expect(code).toBe(1);
    expect(app.output()).toMatch(/PORT must be an integer/);
    expect(app.output()).toMatch(/LLM_PROVIDER must be/);
  });

  it('is closed by default in production: no CHATBOT_API_KEYS → exit 1 naming it, unless AUTH_MODE=open', async () => {
    const closed = await startMain({ NODE_ENV: 'production' }, false);
    expect((await within(closed.exited, 15_000, 'did not exit')).code).toBe(1);
    expect(closed.output()).toMatch(/CHATBOT_API_KEYS is required when NODE_ENV=production/);

    const weak = await startMain(
      { NODE_ENV: 'production', CHATBOT_API_KEYS: 'acme:short-key-1', ADMIN_TOKEN: 'short-key-1' },
      false,
    );
    expect((await within(weak.exited, 15_000, 'did not exit')).code).toBe(1);
    expect(weak.output()).toMatch(/at least 16 characters/);
    expect(weak.output()).toMatch(/ADMIN_TOKEN must differ/);

    const open = await startMain({ NODE_ENV: 'production', AUTH_MODE: 'open' });
    try {
      expect(open.output()).toMatch(/OPEN DEV MODE/);
      expect(open.output()).toMatch(/RATE_LIMIT_RPM/);
      expect((await call(`${open.url}/chat`, { body: { message: 'Hello' } })).status).toBe(200);
    } finally {
      open.proc.kill('SIGTERM');
      await open.exited;
    }
  });

  it('masks URL credentials in configuration errors and in the banner; the banner curl carries the key header', async () => {
    const bad = await startMain({ REDIS_URL: 'redis://admin:hunter2-secret@127.0.0.1:1 x' }, false);
    expect((await within(bad.exited, 15_000, 'did not exit')).code).toBe(1);
    expect(bad.output()).toMatch(/REDIS_URL must look like/);
    expect(bad.output()).not.toContain('hunter2-secret');

    const app = await startMain({
      REDIS_URL: 'redis://admin:hunter2-secret@127.0.0.1:1',
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: 'http://user:upstream-secret@127.0.0.1:1/v1',
      CHATBOT_API_KEYS: 'acme:key-acme-0123456789',
    });
    try {
      expect(app.output()).toMatch(
        /curl -s \S+\/chat -H 'Authorization: Bearer <your CHATBOT_API_KEYS key>'/,
      );
      expect(app.output()).toContain('redis://***@127.0.0.1:1');
      expect(app.output()).not.toContain('hunter2-secret');
      expect(app.output()).not.toContain('upstream-secret');
      expect(app.output()).not.toContain('key-acme-0123456789');
    } finally {
      app.proc.kill('SIGTERM');
      await app.exited;
    }
  });

  it('writes one JSON object per log line in production, no ANSI, with the request id on request lines', async () => {
    const app = await startMain({
      NODE_ENV: 'production',
      CHATBOT_API_KEYS: 'acme:key-acme-0123456789',
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: fake.baseURL,
      LLM_API_KEY: 'sk-test',
      LLM_MAX_RETRIES: '0',
      RATE_LIMIT_RPM: '1',
    });
    try {
      const ask = (requestId: string) =>
        call(`${app.url}/v1/chat/completions`, {
          headers: { authorization: 'Bearer key-acme-0123456789', 'x-request-id': requestId },
          body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'json logs' }] },
        });
      expect((await ask('trace-first-1')).headers.get('x-request-id')).toBe('trace-first-1');
      // Over the limit: the rate limiter logs the refusal, inside the request.
      const refused = await ask('trace-abc-123');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('x-request-id')).toBe('trace-abc-123');
      expect(await waitFor(() => app.output().includes('trace-abc-123'), 5000)).toBe(true);
    } finally {
      app.proc.kill('SIGTERM');
      await app.exited;
    }
    const lines = app
      .output()
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('(node:') && !l.startsWith('(Use'));
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      expect(stripVTControlCharacters(line)).toBe(line);
      expect(() => JSON.parse(line)).not.toThrow();
    }
    const refusal = lines.map((l) => JSON.parse(l)).find((l) => /RATE_LIMIT_RPM=1/.test(l.message));
    expect(refusal).toMatchObject({ level: 'warn', context: 'RateLimit', requestId: 'trace-abc-123' });
    expect(refusal.message).toMatch(/tenant acme/);
  });

  it('maps an upstream timeout to 504', async () => {
    const app = await startMain({
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: fake.baseURL,
      LLM_API_KEY: 'sk-test',
      // The cost guard allows LLM_MODEL alone by default.
      LLM_MODEL: 'fake-model',
      LLM_TIMEOUT_MS: '300',
      LLM_MAX_RETRIES: '0',
    });
    try {
      const res = await call(`${app.url}/v1/chat/completions`, {
        body: { model: 'fake-model', messages: [{ role: 'user', content: 'too slow __slow_1000__' }] },
      });
      expect(res.status).toBe(504);
      expect(res.body.error).toMatchObject({ message: expect.stringMatching(/timed out/), type: 'timeout' });
    } finally {
      app.proc.kill('SIGTERM');
      await app.exited;
    }
  });

  it('on SIGTERM finishes the in-flight request, then exits', async () => {
    const app = await startMain({
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: fake.baseURL,
      LLM_API_KEY: 'sk-test',
      LLM_MAX_RETRIES: '0',
    });
    fake.reset();
    const inFlight = call(`${app.url}/chat`, { body: { message: 'long answer __slow_800__' } });
    expect(await waitFor(() => fake.callCount === 1, 5000)).toBe(true);
    app.proc.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body.reply).toContain('long answer');
    const exit = await within(app.exited, 10_000, 'did not exit after SIGTERM');
    // A clean exit status (not the re-raised signal, 143), which Kubernetes and process managers read as success.
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it.each(['express', 'fastify'])(
    'on SIGTERM with SHUTDOWN_DRAIN_MS (%s): readiness 503 at once, requests still served, then the port closes',
    async (platform) => {
      const drainMs = 1000;
      const app = await startMain({
        HTTP_PLATFORM: platform,
        SHUTDOWN_DRAIN_MS: String(drainMs),
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: fake.baseURL,
        LLM_API_KEY: 'sk-test',
        LLM_MAX_RETRIES: '0',
      });
      expect((await call(`${app.url}/health/ready`)).status).toBe(200);
      const sigtermAt = Date.now();
      app.proc.kill('SIGTERM');
      let ready = await call(`${app.url}/health/ready`);
      while (ready.status === 200 && Date.now() - sigtermAt < 500)
        ready = await call(`${app.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.body.error).toEqual({ shutdown: { status: 'down' } });
      // Draining, not closed: new requests (through the upstream) and liveness are answered.
      const [chat, live] = await Promise.all([
        call(`${app.url}/chat`, { body: { message: `asked during the ${platform} drain` } }),
        call(`${app.url}/health/live`),
      ]);
      expect(chat.status).toBe(200);
      expect(chat.body.reply).toContain(`asked during the ${platform} drain`);
      expect(live.status).toBe(200);
      // Then the listener closes (not before the drain is over) and the process exits cleanly.
      const closed = await waitFor(
        () =>
          call(`${app.url}/health/live`).then(
            () => false,
            () => true,
          ),
        5000,
      );
      expect(closed).toBe(true);
      expect(Date.now() - sigtermAt).toBeGreaterThanOrEqual(drainMs);
      expect(await within(app.exited, 10_000, 'did not exit after SIGTERM')).toEqual({
        code: 0,
        signal: null,
      });
    },
  );
});
