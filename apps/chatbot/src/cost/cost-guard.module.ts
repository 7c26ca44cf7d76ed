import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ThrottlerModule } from '@nestjs/throttler';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { CHATBOT_CONFIG_KEY, chatbotConfigProvider } from '../config/chatbot-config.module.js';
import { ModelPolicyGuard } from './model-policy.guard.js';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';
import { REQUESTS_THROTTLER, TenantThrottlerGuard } from './tenant-throttler.guard.js';
import { TokenBudget } from './token-budget.js';

/** Shared by the throttler (through its storage option) and the token budget. */
@Module({ providers: [RedisThrottlerStorage], exports: [RedisThrottlerStorage] })
class RateLimitStorageModule {}

/**
 * The cost guard: model / n / max_tokens policy, `RATE_LIMIT_RPM` through `@nestjs/throttler` on Redis, and the
 * daily token budget. Needs the global RedisCacheModule and ConfigModule.
 */
@Module({
  imports: [
    RateLimitStorageModule,
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [ConfigService, RedisThrottlerStorage],
      useFactory: (config: ConfigService, storage: RedisThrottlerStorage) => {
        const rpm = config.getOrThrow<ChatbotConfig>(CHATBOT_CONFIG_KEY).costGuard.requestsPerMinute;
        return {
          // No RATE_LIMIT_RPM → no throttler, so the guard lets everything through.
          throttlers: rpm === undefined ? [] : [{ name: REQUESTS_THROTTLER, limit: rpm, ttl: 60_000 }],
          storage,
        };
      },
    }),
  ],
  providers: [chatbotConfigProvider, ModelPolicyGuard, TenantThrottlerGuard, TokenBudget],
  exports: [ModelPolicyGuard, TenantThrottlerGuard, TokenBudget, ThrottlerModule],
})
export class CostGuardModule {}
