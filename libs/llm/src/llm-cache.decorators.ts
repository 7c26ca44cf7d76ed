import { Inject } from '@nestjs/common';
import { LLM_PROVIDER } from './llm.constants.js';

/** Injects the module's default `LlmProvider` (the `provider` option of `LlmCacheModule.forRoot`). */
export const InjectLlmProvider = (): ParameterDecorator => Inject(LLM_PROVIDER);

export const getLlmProviderToken = (): symbol => LLM_PROVIDER;
