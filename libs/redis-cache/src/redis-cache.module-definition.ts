import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces.js';

export const {
  ConfigurableModuleClass: ConfigurableRedisCacheModule,
  MODULE_OPTIONS_TOKEN: REDIS_CACHE_MODULE_OPTIONS,
  OPTIONS_TYPE: REDIS_CACHE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REDIS_CACHE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedisCacheModuleOptions>({ moduleName: 'RedisCache' })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
