import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import {
  CACHE_RESPONSE_OPTIONS,
  RedisCacheInterceptor,
  type CacheResponseOptions,
} from './redis-cache.interceptor.js';

/**
 * Caches a route's JSON answer in Redis through `RedisCacheInterceptor` (GET and HEAD unless `methods` says
 * otherwise). The default key is method + path + sorted query (+ the body for an opted-in method) + `request.tenant`
 * when an auth guard set one: tenants never share an entry, but within a tenant every caller gets the same answer —
 * extend the interceptor's `getCacheKeyParts` on routes whose answer depends on the user. Bad options throw here,
 * at start-up, naming the field.
 */
export function CacheResponse(options: CacheResponseOptions = {}): MethodDecorator & ClassDecorator {
  const { ttlMs, methods } = options;
  if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)) {
    throw new RangeError(
      `@CacheResponse: ttlMs must be a positive number of milliseconds, got ${String(ttlMs)}`,
    );
  }
  if (
    methods !== undefined &&
    (!Array.isArray(methods) ||
      methods.length === 0 ||
      !methods.every((m) => typeof m === 'string' && /^[A-Za-z]+$/.test(m)))
  ) {
    throw new RangeError('@CacheResponse: methods must be a non-empty list of HTTP method names');
  }
  const normalized: CacheResponseOptions = {
    ...(ttlMs !== undefined && { ttlMs }),
    ...(methods !== undefined && { methods: methods.map((m) => m.toUpperCase()) }),
  };
  return applyDecorators(
    SetMetadata(CACHE_RESPONSE_OPTIONS, normalized),
    UseInterceptors(RedisCacheInterceptor),
  );
}
