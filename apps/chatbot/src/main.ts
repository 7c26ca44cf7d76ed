import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { startTelemetry } from './telemetry.js';

// Telemetry before anything else loads: instruments created before a MeterProvider exists stay no-ops forever,
// and the tracing instrumentations patch ioredis and node:http only as those load (the config module alone
// already pulls in @llm-cache/redis-cache, and so ioredis). So the app is imported only after this line.
async function main(): Promise<void> {
  const telemetry = startTelemetry();
  const { bootstrap } = await import('./bootstrap.js');
  await bootstrap(telemetry);
}

main().catch((err: unknown) => {
  new Logger('Chatbot').error(`start-up failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
