import { HttpCode, SetMetadata, UseInterceptors, applyDecorators } from '@nestjs/common';
import { LlmCacheInterceptor, type CacheLlmResponseOptions } from './llm-cache.interceptor.js';
import { LLM_CACHE_ROUTE_OPTIONS } from './llm.constants.js';

/**
 * Marks a route whose handler answers through `LlmCacheService`: it runs inside an `LlmRequestContext`, gets the
 * cache headers, and may return a chunk stream to be sent as SSE. Answers with 200 like OpenAI (not POST's 201).
 */
export const CacheLlmResponse = (options: CacheLlmResponseOptions = {}): MethodDecorator & ClassDecorator => {
  if (options.ttlMs !== undefined && !(Number.isFinite(options.ttlMs) && options.ttlMs > 0)) {
    throw new Error(`@CacheLlmResponse: ttlMs must be a positive number, got ${String(options.ttlMs)}`);
  }
  return applyDecorators(
    SetMetadata(LLM_CACHE_ROUTE_OPTIONS, options),
    HttpCode(200),
    UseInterceptors(LlmCacheInterceptor),
  );
};
