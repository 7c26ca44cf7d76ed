import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { LlmCacheModuleExtras, LlmCacheModuleOptions } from './llm-cache.interfaces.js';

export const {
  ConfigurableModuleClass: ConfigurableLlmCacheModule,
  MODULE_OPTIONS_TOKEN: LLM_CACHE_MODULE_OPTIONS,
  OPTIONS_TYPE: LLM_CACHE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: LLM_CACHE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<LlmCacheModuleOptions>({ moduleName: 'LlmCache' })
  .setClassMethodName('forRoot')
  .setExtras<LlmCacheModuleExtras>({ isGlobal: false, imports: [], providers: [] }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
    imports: [...(definition.imports ?? []), ...(extras.imports ?? [])],
    // Last, so that a provider with the token of one of the module's own replaces it.
    providers: [...(definition.providers ?? []), ...(extras.providers ?? [])],
  }))
  .build();
