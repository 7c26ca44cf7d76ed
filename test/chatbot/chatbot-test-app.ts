/**
 * Starts the real chatbot in-process for e2e tests: the same factory as main.ts, a real HTTP port on 127.0.0.1,
 * real Redis (test/harness/redis-server.ts) and a real OpenAI-compatible upstream (test/harness/fake-openai-server.ts).
 */
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { INestApplication } from '@nestjs/common';
import { createChatbotApp } from '../../apps/chatbot/src/app.factory.js';
import type { ChatbotConfig } from '../../apps/chatbot/src/config/chatbot.config.js';
import { CHATBOT_CONFIG } from '../../apps/chatbot/src/config/chatbot-config.constants.js';
import { setTimeout as sleep } from 'node:timers/promises';

let exporter: PrometheusExporter | undefined;

/**
 * One MeterProvider per test file, registered before any app exists: nestjs-otel caches instruments by name for the
 * life of the module registry, and instruments created before a provider is registered stay no-ops.
 */
export function testMetricsExporter(): PrometheusExporter {
  if (!exporter) {
    exporter = new PrometheusExporter({ preventServerStart: true });
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
  }
  return exporter;
}

export async function scrapeMetrics(): Promise<string> {
  const { resourceMetrics } = await testMetricsExporter().collect();
  return new PrometheusSerializer().serialize(resourceMetrics);
}

export interface TestChatbot {
  app: INestApplication;
  config: ChatbotConfig;
  url: string;
  close(): Promise<void>;
}

/** Builds the config from env-style variables (so the env parsing is exercised too) and listens on a free port. */
export async function startChatbot(env: Record<string, string>): Promise<TestChatbot> {
  const app = await createChatbotApp({
    env: { PORT: '0', HOST: '127.0.0.1', ...env },
    metricsExporter: testMetricsExporter(),
    logger: process.env.CHATBOT_TEST_LOGS ? undefined : ['error'],
  });
  const config = app.get<ChatbotConfig>(CHATBOT_CONFIG);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  let closed = false;
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

/** Env for an app on `redisUrl` whose provider is the fake upstream, without retries (call counts stay exact). */
export function upstreamEnv(
  redisUrl: string | undefined,
  baseURL: string,
  extra: Record<string, string> = {},
) {
  return {
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    LLM_PROVIDER: 'openai',
    LLM_BASE_URL: baseURL,
    LLM_API_KEY: 'sk-upstream-test',
    LLM_MODEL: 'fake-model',
    LLM_MAX_RETRIES: '0',
    LLM_TIMEOUT_MS: '5000',
    ...extra,
  };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** fetch with a JSON body and a JSON (or text) answer, bounded in time. */
export async function call(
  url: string,
  init: { method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  } else if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(url, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export { sleep };

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}
