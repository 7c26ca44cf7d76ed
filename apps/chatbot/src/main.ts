import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { ChatbotConfig } from './config/chatbot.config.js';
import { startTelemetry } from './telemetry.js';

const logger = new Logger('Chatbot');

async function main(): Promise<void> {
  // Telemetry before anything loads ioredis or node:http users: the instrumentations patch modules as they load,
  // and instruments created before a MeterProvider exists would stay no-ops forever. Everything else is imported
  // after this line (the config module already pulls in @llm-cache/redis-cache and so ioredis).
  const telemetry = startTelemetry();
  const { ChatbotConfigError, loadChatbotConfig } = await import('./config/chatbot.config.js');
  let config: ChatbotConfig;
  try {
    config = loadChatbotConfig(process.env);
  } catch (err) {
    if (!(err instanceof ChatbotConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const { createChatbotApp } = await import('./app.factory.js');
  const app = await createChatbotApp({ config, metricsExporter: telemetry.exporter });
  await app.listen(config.port, config.host ?? '0.0.0.0');
  printBanner(config, await app.getUrl());
}

function printBanner(config: ChatbotConfig, rawUrl: string): void {
  const url = rawUrl
    .replace('[::1]', 'localhost')
    .replace('0.0.0.0', 'localhost')
    .replace('127.0.0.1', 'localhost');
  const lines = [`Chatbot listening on ${url}`];
  lines.push(
    `  try:   curl -s ${url}/chat -H 'content-type: application/json' -d '{"message":"Hello"}'`,
    `  SDK:   new OpenAI({ baseURL: '${url}/v1', apiKey: '<key or anything in open mode>' })`,
    `  ops:   ${url}/health  ${url}/metrics`,
  );
  if (config.redis.inMemory) {
    lines.push(
      '  cache: IN-MEMORY (this process only). Point it at Redis: REDIS_URL=redis://localhost:6379 npm start',
    );
  } else {
    lines.push(`  cache: Redis (${describeRedis(config)})`);
  }
  if (config.llm.provider === 'mock') {
    lines.push(
      `  model: MOCK provider (${config.llm.providerReason}): canned answers, no real model is called.`,
      '         Use a real model: LLM_API_KEY=sk-… [LLM_BASE_URL=https://…/v1] [LLM_MODEL=gpt-4o-mini] npm start',
    );
  } else {
    lines.push(`  model: ${config.llm.model} at ${config.llm.baseURL ?? 'https://api.openai.com/v1'}`);
  }
  if (config.apiKeys === null)
    lines.push('  auth:  OPEN DEV MODE (set CHATBOT_API_KEYS=tenant:key,… for production)');
  logger.log(lines.join('\n'));
}

function describeRedis(config: ChatbotConfig): string {
  const r = config.redis;
  if (r.cluster) return `cluster ${r.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (r.sentinel) return `sentinel ${r.sentinel.name}`;
  return (r.url ?? '').replace(/\/\/[^@/]*@/, '//***@');
}

main().catch((err: unknown) => {
  logger.error(`start-up failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
