import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { rejectInvalidUtf8 } from './utf8-body.js';
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

/**
 * Fastify's JSON body parser, worded like Express's body-parser: a syntax error keeps JSON.parse's position and the
 * body (so the error can say at which line and column the JSON broke), and an empty body is Fastify's own error.
 */
export async function parseJsonBody(_request: unknown, body: Buffer): Promise<unknown> {
  if (body.length === 0) {
    throw Object.assign(new Error("Body cannot be empty when content-type is set to 'application/json'"), {
      code: 'FST_ERR_CTP_EMPTY_JSON_BODY',
      statusCode: 400,
    });
  }
  // The same rule as Express' body-parser `verify` hook: invalid bytes are refused, never replaced.
  rejectInvalidUtf8(_request, undefined, body);
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw Object.assign(err as SyntaxError, { statusCode: 400, body: text });
  }
}
