import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ChatbotConfigError } from '../config/chatbot.config.js';

export type HttpPlatform = 'express' | 'fastify';

/**
 * `HTTP_PLATFORM` (`express`, the default, or `fastify`). Read apart from the rest of the config because the
 * adapter must exist before the app (and so ConfigModule) does; a bad value fails start-up like any bad variable.
 */
export function httpPlatformFrom(env: Record<string, string | undefined>): HttpPlatform {
  const value = (env.HTTP_PLATFORM ?? 'express').trim().toLowerCase();
  if (value === 'express' || value === 'fastify') return value;
  throw new ChatbotConfigError([`HTTP_PLATFORM must be express or fastify, got "${env.HTTP_PLATFORM}"`]);
}

export function createHttpAdapter(platform: HttpPlatform): AbstractHttpAdapter {
  return platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
}
