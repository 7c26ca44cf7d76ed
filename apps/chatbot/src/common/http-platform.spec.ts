import { describe, expect, it } from '@jest/globals';
import { ChatbotConfigError } from '../config/chatbot.config.js';
import { httpPlatformFrom } from './http-platform.js';

describe('httpPlatformFrom', () => {
  it('defaults to express and accepts express or fastify in any case', () => {
    expect(httpPlatformFrom({})).toBe('express');
    expect(httpPlatformFrom({ HTTP_PLATFORM: 'Fastify' })).toBe('fastify');
    expect(httpPlatformFrom({ HTTP_PLATFORM: ' express ' })).toBe('express');
  });

  it('fails start-up on anything else, naming the variable and the value', () => {
    expect(() => httpPlatformFrom({ HTTP_PLATFORM: 'koa' })).toThrow(ChatbotConfigError);
    expect(() => httpPlatformFrom({ HTTP_PLATFORM: 'koa' })).toThrow(
      /HTTP_PLATFORM must be express or fastify, got "koa"/,
    );
  });
});
