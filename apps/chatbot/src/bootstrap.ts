import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import {
  ChatbotConfigError,
  isProduction,
  maskUrlCredentials,
  type ChatbotConfig,
} from './config/chatbot.config.js';
import { ChatbotLogger } from './logging/chatbot-logger.js';
import { CHATBOT_CONFIG } from './config/chatbot-config.constants.js';
import type { Telemetry } from './telemetry.js';

const logger = new Logger('Chatbot');

/** Creates and starts the app; main.ts imports this module only after the OpenTelemetry SDK is running. */
export async function bootstrap(telemetry: Telemetry): Promise<void> {
  const { createChatbotApp } = await import('./app.factory.js');
  let app: Awaited<ReturnType<typeof createChatbotApp>>;
  try {
    app = await createChatbotApp({
      metricsExporter: telemetry.exporter,
      // Production: one JSON object per line (log collectors); elsewhere Nest's readable lines.
      logger: new ChatbotLogger({ json: isProduction() }),
    });
  } catch (err) {
    if (!(err instanceof ChatbotConfigError)) throw err;
    logger.error(err.message);
    process.exit(1);
  }
  const config = app.get<ChatbotConfig>(CHATBOT_CONFIG);
  await app.listen(config.port, config.host ?? '0.0.0.0');
  printBanner(config, await app.getUrl());
}

function printBanner(config: ChatbotConfig, rawUrl: string): void {
  const url = rawUrl
    .replace('[::1]', 'localhost')
    .replace('0.0.0.0', 'localhost')
    .replace('127.0.0.1', 'localhost');
  const lines = [`Chatbot listening on ${url}`];
  // Never the key itself in a log: a placeholder the reader replaces.
  const auth = config.apiKeys === null ? '' : ` -H 'Authorization: Bearer <your CHATBOT_API_KEYS key>'`;
  lines.push(
    `  try:   curl -s ${url}/chat${auth} -H 'content-type: application/json' -d '{"message":"Hello"}'`,
    `  SDK:   new OpenAI({ baseURL: '${url}/v1', apiKey: '${config.apiKeys === null ? '<anything in open mode>' : '<your key>'}' })`,
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
    lines.push(
      `  model: ${config.llm.model} at ${maskUrlCredentials(config.llm.baseURL ?? 'https://api.openai.com/v1')}`,
    );
  }
  if (config.apiKeys === null)
    lines.push('  auth:  OPEN DEV MODE (set CHATBOT_API_KEYS=tenant:key,… for production)');
  logger.log(lines.join('\n'));
}

function describeRedis(config: ChatbotConfig): string {
  const r = config.redis;
  if (r.cluster) return `cluster ${r.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (r.sentinel) return `sentinel ${r.sentinel.name}`;
  return maskUrlCredentials(r.url ?? '');
}
