import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { LoggerService, LogLevel } from '@nestjs/common';
import { AppModule, type ChatbotAppOptions } from './app.module.js';
import { answerClientErrorsInOpenAiShape } from './common/client-error.handler.js';
import type { HttpRequest, HttpResponse } from './common/http.types.js';
import { rejectInvalidUtf8 } from './common/utf8-body.js';
import type { ChatbotConfig } from './config/chatbot.config.js';
import { CHATBOT_CONFIG } from './config/chatbot-config.constants.js';
import { reenterRequestContext, requestIdMiddleware } from './logging/request-context.js';
import { HttpMetricsMiddleware } from './metrics/http-metrics.middleware.js';

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
  // Plain Express middleware rather than a Nest one: Nest binds middleware to routes, and requests that match none
  // (404s) or fail in the body parser (413) must be counted too.
  app.use(requestIdMiddleware);
  const httpMetrics = app.get(HttpMetricsMiddleware);
  app.use((req: HttpRequest, res: HttpResponse, next: () => void) => httpMetrics.use(req, res, next));
  app.useBodyParser('json', {
    limit: app.get<ChatbotConfig>(CHATBOT_CONFIG).bodyLimitBytes,
    verify: rejectInvalidUtf8,
  });
  app.use(reenterRequestContext);
  app.disable('x-powered-by');
  answerClientErrorsInOpenAiShape(app.getHttpServer());
  app.enableShutdownHooks();
  return app;
}
