import { HttpCode, SetMetadata, UseInterceptors, applyDecorators } from '@nestjs/common';
import { LlmCacheInterceptor, type CacheLlmResponseOptions } from './llm-cache.interceptor.js';
import { LLM_CACHE_ROUTE_OPTIONS } from './llm.constants.js';

// Nest's metadata keys (PATH_METADATA, HTTP_CODE_METADATA, INTERCEPTORS_METADATA in @nestjs/common/constants, which
// the package does not export publicly).
const PATH_METADATA = 'path';
const HTTP_CODE_METADATA = '__httpCode__';
const INTERCEPTORS_METADATA = '__interceptors__';

/**
 * Marks a route whose handler answers through `LlmCacheService`: it runs inside an `LlmRequestContext`, gets the
 * cache headers, and may return a chunk stream to be sent as SSE. Answers with 200 like OpenAI (not POST's 201).
 *
 * On a controller class it applies to every route of the class; a method's own `@CacheLlmResponse()` overrides the
 * class options field by field, and an explicit `@HttpCode()` on a method wins over the 200.
 */
export const CacheLlmResponse = (options: CacheLlmResponseOptions = {}): MethodDecorator & ClassDecorator => {
  if (options.ttlMs !== undefined && !(Number.isFinite(options.ttlMs) && options.ttlMs > 0)) {
    throw new Error(`@CacheLlmResponse: ttlMs must be a positive number, got ${String(options.ttlMs)}`);
  }
  const onMethod = applyDecorators(
    SetMetadata(LLM_CACHE_ROUTE_OPTIONS, options),
    HttpCode(200),
    UseInterceptors(LlmCacheInterceptor),
  );
  const onClass = applyDecorators(
    SetMetadata(LLM_CACHE_ROUTE_OPTIONS, options),
    UseInterceptors(LlmCacheInterceptor),
  );
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor) return onMethod(target, key!, descriptor);
    onClass(target as new (...args: never[]) => unknown);
    forEachRoute(target as { prototype: object }, answerWith200AndInterceptOnce);
    return undefined;
  }) as MethodDecorator & ClassDecorator;
};

function forEachRoute(controller: { prototype: object }, visit: (handler: object) => void): void {
  for (const name of Object.getOwnPropertyNames(controller.prototype)) {
    if (name === 'constructor') continue;
    const handler: unknown = Object.getOwnPropertyDescriptor(controller.prototype, name)?.value;
    if (typeof handler === 'function' && Reflect.getMetadata(PATH_METADATA, handler) !== undefined) {
      visit(handler);
    }
  }
}

/**
 * Class decorators run after the method decorators, so each route is already complete here: give it the 200 unless
 * it chose a code, and drop a method-level `LlmCacheInterceptor` that would otherwise run a second time inside the
 * class-level one (its options stay, and the interceptor merges them over the class's).
 */
function answerWith200AndInterceptOnce(handler: object): void {
  if (Reflect.getMetadata(HTTP_CODE_METADATA, handler) === undefined) {
    Reflect.defineMetadata(HTTP_CODE_METADATA, 200, handler);
  }
  const interceptors: unknown[] | undefined = Reflect.getMetadata(INTERCEPTORS_METADATA, handler);
  if (interceptors?.includes(LlmCacheInterceptor)) {
    Reflect.defineMetadata(
      INTERCEPTORS_METADATA,
      interceptors.filter((i) => i !== LlmCacheInterceptor),
      handler,
    );
  }
}
