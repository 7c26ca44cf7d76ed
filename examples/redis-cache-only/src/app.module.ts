import { Module } from '@nestjs/common';
import { RedisCacheModule } from '@llm-cache/redis-cache';
import { ItemsController } from './items.controller.js';

@Module({
  imports: [
    RedisCacheModule.forRoot({
      url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      keyPrefix: 'only',
      commandTimeoutMs: 200,
    }),
  ],
  controllers: [ItemsController],
})
export class AppModule {}
