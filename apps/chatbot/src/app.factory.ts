import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { LoggerService, LogLevel } from '@nestjs/common';
import { AppModule, type ChatbotAppOptions } from './app.module.js';

export interface CreateChatbotAppOptions extends ChatbotAppOptions {
  logger?: LoggerService | LogLevel[] | false;
}

/** Creates (does not start) the chatbot: used by main.ts and by the e2e tests, so both run the same wiring. */
export async function createChatbotApp(options: CreateChatbotAppOptions): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(options), {
    // Registered below with the configured limit; Nest's default parser would accept 100 kB and urlencoded too.
    bodyParser: false,
    logger: options.logger,
    abortOnError: false,
  });
  app.useBodyParser('json', { limit: options.config.bodyLimitBytes });
  app.disable('x-powered-by');
  app.enableShutdownHooks();
  return app;
}
