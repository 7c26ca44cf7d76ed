import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { LlmCacheModule } from '@llm-cache/llm';
import { RedisCacheModule } from '@llm-cache/redis-cache';
import { ChatController } from './chat.controller.js';
import { EchoProvider } from './echo.provider.js';
import { HealthController } from './health.controller.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    RedisCacheModule.forRootAsync({
      isGlobal: true,
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        url: config.getOrThrow<string>('REDIS_URL'),
        keyPrefix: config.get<string>('CACHE_PREFIX', 'example'),
        commandTimeoutMs: Number(config.get('REDIS_COMMAND_TIMEOUT_MS', 200)),
      }),
    }),
    LlmCacheModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        provider: new EchoProvider(config.get<string>('LLM_MODEL', 'echo-1')),
        ttlMs: 10 * 60_000,
      }),
    }),
    TerminusModule,
  ],
  controllers: [ChatController, HealthController],
})
export class AppModule {}
