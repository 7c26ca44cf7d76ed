import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Controller, HttpCode, Post } from '@nestjs/common';
import { CacheLlmResponse } from './cache-llm-response.decorator.js';
import { LlmCacheInterceptor } from './llm-cache.interceptor.js';
import { LLM_CACHE_ROUTE_OPTIONS } from './llm.constants.js';

const interceptorsOf = (target: object): unknown[] => Reflect.getMetadata('__interceptors__', target) ?? [];

describe('@CacheLlmResponse', () => {
  it('on a method: route options, 200 and the interceptor on that method', () => {
    class Chat {
      @Post('x')
      @CacheLlmResponse({ ttlMs: 5000 })
      x() {}
    }
    const handler = Chat.prototype.x;
    expect(Reflect.getMetadata(LLM_CACHE_ROUTE_OPTIONS, handler)).toEqual({ ttlMs: 5000 });
    expect(Reflect.getMetadata('__httpCode__', handler)).toBe(200);
    expect(interceptorsOf(handler)).toEqual([LlmCacheInterceptor]);
  });

  it('on a class: the interceptor runs once per route, routes answer 200 unless they chose a code', () => {
    @Controller('c')
    @CacheLlmResponse({ ttlMs: 1000 })
    class Chat {
      @Post('plain')
      plain() {}

      @Post('own')
      @CacheLlmResponse({ ttlMs: 9000 })
      own() {}

      @Post('accepted')
      @HttpCode(202)
      accepted() {}

      helper() {}
    }
    expect(interceptorsOf(Chat)).toEqual([LlmCacheInterceptor]);
    expect(Reflect.getMetadata(LLM_CACHE_ROUTE_OPTIONS, Chat)).toEqual({ ttlMs: 1000 });
    expect(Reflect.getMetadata('__httpCode__', Chat.prototype.plain)).toBe(200);
    expect(Reflect.getMetadata('__httpCode__', Chat.prototype.accepted)).toBe(202);
    // The method keeps its options (merged over the class's by the interceptor) but not a second interceptor.
    expect(Reflect.getMetadata(LLM_CACHE_ROUTE_OPTIONS, Chat.prototype.own)).toEqual({ ttlMs: 9000 });
    expect(interceptorsOf(Chat.prototype.own)).toEqual([]);
    expect(Reflect.getMetadata('__httpCode__', Chat.prototype.helper)).toBeUndefined();
  });

  it('rejects a non-positive ttlMs at declaration time', () => {
    expect(() => CacheLlmResponse({ ttlMs: 0 })).toThrow(/ttlMs must be a positive number/);
  });
});
