import { NestFactory } from '@nestjs/core';
import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule, type ChatbotAppOptions } from './app.module.js';
import { answerClientErrorsInOpenAiShape } from './common/client-error.handler.js';
import {
  createHttpAdapter,
  httpPlatformFrom,
  parseJsonBody,
  type HttpPlatform,
} from './common/http-platform.js';
import type { HttpRequest, HttpResponse } from './common/http.types.js';
import { rejectInvalidUtf8 } from './common/utf8-body.js';
import type { ChatbotConfig } from './config/chatbot.config.js';
import { CHATBOT_CONFIG } from './config/chatbot-config.constants.js';
import { reenterRequestContext, requestIdMiddleware } from './logging/request-context.js';
import { HttpMetricsMiddleware } from './metrics/http-metrics.middleware.js';

export interface CreateChatbotAppOptions extends ChatbotAppOptions {
  logger?: LoggerService | LogLevel[] | false;
  /** Default: `HTTP_PLATFORM` from `env` (or `process.env`), else express. */
  platform?: HttpPlatform;
}

/** Creates (does not start) the chatbot: used by main.ts and by the e2e tests, so both run the same wiring. */
export async function createChatbotApp(options: CreateChatbotAppOptions): Promise<INestApplication> {
  const platform = options.platform ?? httpPlatformFrom(options.env ?? process.env);
  const adapter = createHttpAdapter(platform);
  const app = await NestFactory.create<NestExpressApplication | NestFastifyApplication>(
    AppModule.register(options),
    adapter,
    {
      // Registered below with the configured limit; Nest's default parser would accept 100 kB and urlencoded too.
      bodyParser: false,
      logger: options.logger,
      abortOnError: false,
    },
  );
  if (platform === 'fastify') {
    // The matched route pattern (the metrics' `route` label), where Express middleware finds `req.route`.
    (app as NestFastifyApplication)
      .getHttpAdapter()
      .getInstance()
      .addHook('onRequest', async (request) => {
        (request.raw as HttpRequest).routePattern = request.is404 ? undefined : request.routeOptions.url;
      });
  }
  // Plain Express middleware rather than a Nest one: Nest binds middleware to routes, and requests that match none
  // (404s) or fail in the body parser (413) must be counted too.
  app.use(requestIdMiddleware);
  const httpMetrics = app.get(HttpMetricsMiddleware);
  app.use((req: HttpRequest, res: HttpResponse, next: () => void) => httpMetrics.use(req, res, next));
  const { bodyLimitBytes } = app.get<ChatbotConfig>(CHATBOT_CONFIG);
  if (platform === 'fastify') {
    (app as NestFastifyApplication).useBodyParser(
      'application/json',
      { bodyLimit: bodyLimitBytes },
      parseJsonBody,
    );
  } else {
    (app as NestExpressApplication).useBodyParser('json', {
      limit: bodyLimitBytes,
      verify: rejectInvalidUtf8,
    });
    (app as NestExpressApplication).disable('x-powered-by');
    // Fastify answers malformed HTTP in its own handler; Express leaves Node's bare 400.
    answerClientErrorsInOpenAiShape(app.getHttpServer());
  }
  app.use(reenterRequestContext);
  // Exit 0 once the shutdown hooks are done (Nest's default re-raises the signal: exit status 143 on SIGTERM, which
  // Kubernetes and process managers report as a failure of a clean rollout).
  app.enableShutdownHooks([], { useProcessExit: true });
  return app;
}
