/**
 * The app under benchmark: the chatbot exactly as `npm start` builds it (same AppModule, adapter, body parser,
 * middleware and filters), plus two bench-only route groups mounted in the same process — `/bench/bare/*` (no cache
 * at all) and `/bench/peer/*` (@nestjs/cache-manager's CacheInterceptor on @keyv/redis) — and `GET /bench/platform`
 * (the adapter the process really runs on). Configured by the same environment variables as the chatbot, so
 * `HTTP_PLATFORM=fastify` runs all of it on Fastify.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { loadChatbotConfig } from '../../apps/chatbot/src/config/chatbot.config.js';
import { startTelemetry } from '../../apps/chatbot/src/telemetry.js';
import { BareController } from './bare.controller.js';
import { PlatformController } from './platform.controller.js';

@Module({ controllers: [BareController, PlatformController] })
class BenchRoutesModule {}

async function main(): Promise<void> {
  const config = loadChatbotConfig(process.env);
  if (!config.redis.url) throw new Error('bench-server needs REDIS_URL (the peer store uses the same Redis)');
  const telemetry = startTelemetry('llm-cache-bench');
  // Imported after the SDK so every instrument binds to its MeterProvider (as main.ts does).
  const { createChatbotApp } = await import('../../apps/chatbot/src/app.factory.js');
  const { PeerModule } = await import('./peer.module.js');
  const app = await createChatbotApp({
    env: process.env,
    metricsExporter: telemetry.exporter,
    logger: ['error', 'warn'],
    imports: [BenchRoutesModule, PeerModule.register(config.redis.url)],
  });
  await app.listen(config.port, '127.0.0.1');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-server: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
