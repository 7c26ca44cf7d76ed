import { type DynamicModule, Module, type ModuleMetadata } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ConfigModule, ConfigService } from '@nestjs/config';
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
import {
  CHATBOT_CONFIG_KEY,
  chatbotConfigModule,
  chatbotConfigProvider,
} from './config/chatbot-config.module.js';
import { BudgetedLlmProvider } from './cost/budgeted-llm.provider.js';
import { CostGuardModule } from './cost/cost-guard.module.js';
import { TokenBudget } from './cost/token-budget.js';
import { HealthController } from './health/health.controller.js';
import { createLlmProvider } from './llm-provider.factory.js';
import { HttpMetricsMiddleware } from './metrics/http-metrics.middleware.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { PROMETHEUS_EXPORTER } from './metrics/metrics.constants.js';
import { OpenAiController } from './openai/openai.controller.js';
import { WebAssets } from './web/web-assets.js';
import { WebController } from './web/web.controller.js';

export interface ChatbotAppOptions {
  /** The environment to configure from (default `process.env`), parsed once through ConfigModule. */
  env?: Record<string, string | undefined>;
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
  static register({ env, metricsExporter, provider, imports = [] }: ChatbotAppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        chatbotConfigModule(env),
        RedisCacheModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => chatbotConfigOf(config).redis,
          isGlobal: true,
        }),
        CostGuardModule,
        LlmCacheModule.forRootAsync({
          imports: [ConfigModule, CostGuardModule],
          inject: [ConfigService, TokenBudget],
          useFactory: (configService: ConfigService, budget: TokenBudget) => {
            const config = chatbotConfigOf(configService);
            const upstream = provider ?? createLlmProvider(config.llm);
            return {
              provider: budget.enabled ? new BudgetedLlmProvider(upstream, budget) : upstream,
              ttlMs: config.cacheTtlMs,
              maxMessages: config.maxMessages,
              shareAcrossTenants: config.shareAcrossTenants,
            };
          },
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
        chatbotConfigProvider,
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

function chatbotConfigOf(config: ConfigService): ChatbotConfig {
  return config.getOrThrow<ChatbotConfig>(CHATBOT_CONFIG_KEY);
}
