import { type DynamicModule, Module, type ModuleMetadata } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { LlmCacheModule, type LlmProvider } from '@llm-cache/llm';
import { RedisCacheModule } from '@llm-cache/redis-cache';
import { AdminController } from './admin/admin.controller.js';
import { AdminGuard } from './auth/admin.guard.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { AuthModeNotice } from './auth/auth-mode.notice.js';
import { ChatController } from './chat/chat.controller.js';
import { ChatStatsController } from './chat/chat-stats.controller.js';
import { ChatService } from './chat/chat.service.js';
import { ConversationStore } from './chat/conversation.store.js';
import { GracefulShutdown } from './common/graceful-shutdown.js';
import { OpenAiExceptionFilter } from './common/openai-exception.filter.js';
import type { ChatbotConfig } from './config/chatbot.config.js';
import { CHATBOT_CONFIG } from './config/chatbot-config.constants.js';
import { HealthController } from './health/health.controller.js';
import { createLlmProvider } from './llm-provider.factory.js';
import { HttpMetricsMiddleware } from './metrics/http-metrics.middleware.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { PROMETHEUS_EXPORTER } from './metrics/metrics.constants.js';
import { OpenAiController } from './openai/openai.controller.js';
import { WebAssets } from './web/web-assets.js';
import { WebController } from './web/web.controller.js';

export interface ChatbotAppOptions {
  config: ChatbotConfig;
  /** The Prometheus reader registered with the global MeterProvider (see telemetry.ts). */
  metricsExporter: PrometheusExporter;
  /** Overrides the provider built from `config.llm` (tests, or an app with its own upstream). */
  provider?: LlmProvider;
  /** Extra modules mounted in the same app (the benchmark's bare and peer routes use this). */
  imports?: ModuleMetadata['imports'];
}

@Module({})
export class AppModule {
  /** Builds the whole app from an explicit config, so tests can start it with their own Redis and upstream. */
  static register({ config, metricsExporter, provider, imports = [] }: ChatbotAppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RedisCacheModule.forRoot({ ...config.redis, isGlobal: true }),
        LlmCacheModule.forRoot({
          provider: provider ?? createLlmProvider(config.llm),
          ttlMs: config.cacheTtlMs,
          maxMessages: config.maxMessages,
          isGlobal: true,
        }),
        TerminusModule,
        ...imports,
      ],
      controllers: [
        ChatController,
        ChatStatsController,
        OpenAiController,
        AdminController,
        HealthController,
        MetricsController,
        WebController,
      ],
      providers: [
        { provide: CHATBOT_CONFIG, useValue: config },
        { provide: PROMETHEUS_EXPORTER, useValue: metricsExporter },
        { provide: APP_FILTER, useClass: OpenAiExceptionFilter },
        ApiKeyGuard,
        AdminGuard,
        AuthModeNotice,
        ChatService,
        ConversationStore,
        GracefulShutdown,
        HttpMetricsMiddleware,
        WebAssets,
      ],
    };
  }
}
