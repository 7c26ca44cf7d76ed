import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Test, type TestingModule } from '@nestjs/testing';
import { CacheResponse } from './cache-response.decorator.js';
import { canonicalJson, RedisCacheInterceptor, requestKeyParts } from './redis-cache.interceptor.js';
import { RedisCacheModule } from './redis-cache.module.js';
import { RedisCacheService } from './redis-cache.service.js';

/** Exposes the protected hooks under test. */
class KeyProbe extends RedisCacheInterceptor {
  key(ctx: ExecutionContext): string {
    return this.getCacheKey(ctx);
  }
  skip(ctx: ExecutionContext): boolean {
    return this.shouldSkip(ctx);
  }
  ttl(ctx: ExecutionContext): number {
    return this.getTtlMs(ctx);
  }
  directives(ctx: ExecutionContext): { noStore: boolean; noCache: boolean } {
    return this.getRequestDirectives(ctx);
  }
}

class Routes {
  plain() {}
  @CacheResponse({ ttlMs: 5000, methods: ['get', 'post'] })
  posted() {}
}

function http(
  method: string,
  url: string,
  handler: (...args: unknown[]) => unknown = Routes.prototype.plain,
  body?: unknown,
  tenant?: string,
): ExecutionContext {
  const req = { method, url, originalUrl: url, headers: {}, body, tenant };
  const ctx = new ExecutionContextHost([req, {}, () => undefined], Routes, handler);
  ctx.setType('http');
  return ctx;
}

describe('RedisCacheInterceptor key derivation', () => {
  let mod: TestingModule;
  let probe: KeyProbe;

  beforeAll(async () => {
    mod = await Test.createTestingModule({
      imports: [RedisCacheModule.forRoot({ inMemory: true, defaultTtlMs: 1234 })],
    }).compile();
    probe = new KeyProbe(mod.get(RedisCacheService), new Reflector());
  });
  afterAll(async () => {
    await mod?.close();
  });

  it('is provided by RedisCacheModule', () => {
    expect(mod.get(RedisCacheInterceptor)).toBeInstanceOf(RedisCacheInterceptor);
  });

  it('hashes method, path and query into <namespace>:<sha256>', () => {
    expect(probe.key(http('GET', '/items/1?a=1'))).toMatch(/^resp:[0-9a-f]{64}$/);
  });

  it('gives the same key whatever the order of the query parameters', () => {
    expect(probe.key(http('GET', '/items?b=2&a=1&a=0'))).toBe(probe.key(http('GET', '/items?a=0&a=1&b=2')));
  });

  it('gives different keys for different paths, query values and parameter splits', () => {
    const keys = [
      '/items/1',
      '/items/2',
      '/items/1?a=1',
      '/items/1?a=2',
      '/items/1?a=1&b=2',
      '/items/1?a=1%26b%3D2',
      '//items/1',
      '/items/1/',
    ].map((url) => probe.key(http('GET', url)));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('never shares an entry between tenants set by an auth guard (request.tenant)', () => {
    const plain = Routes.prototype.plain;
    const acme = probe.key(http('GET', '/items/1', plain, undefined, 'acme'));
    expect(acme).toBe(probe.key(http('GET', '/items/1', plain, undefined, 'acme')));
    expect(acme).not.toBe(probe.key(http('GET', '/items/1', plain, undefined, 'globex')));
    expect(acme).not.toBe(probe.key(http('GET', '/items/1')));
  });

  it('keys HEAD like GET, so a HEAD is answered from the GET entry', () => {
    expect(probe.key(http('HEAD', '/items/1'))).toBe(probe.key(http('GET', '/items/1')));
  });

  it('adds the canonical body to the key for an opted-in method with a body', () => {
    const a = probe.key(http('POST', '/q', Routes.prototype.posted, { x: 1, y: [1, { b: 1, a: 2 }] }));
    const b = probe.key(http('POST', '/q', Routes.prototype.posted, { y: [1, { a: 2, b: 1 }], x: 1 }));
    const c = probe.key(http('POST', '/q', Routes.prototype.posted, { x: 2, y: [1, { a: 2, b: 1 }] }));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).not.toBe(probe.key(http('GET', '/q', Routes.prototype.posted)));
  });

  it('skips methods other than GET/HEAD unless the route opted in, and anything that is not HTTP', () => {
    expect(probe.skip(http('GET', '/x'))).toBe(false);
    expect(probe.skip(http('HEAD', '/x'))).toBe(false);
    expect(probe.skip(http('POST', '/x'))).toBe(true);
    expect(probe.skip(http('POST', '/x', Routes.prototype.posted))).toBe(false);
    expect(probe.skip(http('PUT', '/x', Routes.prototype.posted))).toBe(true);
    const rpc = new ExecutionContextHost([{}, {}], Routes, Routes.prototype.plain);
    rpc.setType('rpc');
    expect(probe.skip(rpc)).toBe(true);
  });

  it("uses the route's ttlMs, else the module's defaultTtlMs", () => {
    expect(probe.ttl(http('POST', '/x', Routes.prototype.posted))).toBe(5000);
    expect(probe.ttl(http('GET', '/x'))).toBe(1234);
  });

  it('splits the query by hand and sorts it by name then value', () => {
    expect(requestKeyParts('head', '/a/b?z=1&y=2&y=1')).toEqual(['GET', '/a/b', 'y=1&y=2&z=1']);
    expect(requestKeyParts('GET', '//evil/a')).toEqual(['GET', '//evil/a', '']);
  });

  it('writes canonical JSON with object keys sorted at every level, arrays kept in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
  });

  it('honours no-store / no-cache from Cache-Control and ignores a malformed max-age it does not use', () => {
    const withHeader = (value: string | string[]) => {
      const ctx = http('GET', '/a');
      ctx.switchToHttp().getRequest().headers['cache-control'] = value;
      return ctx;
    };
    expect(probe.directives(withHeader('No-Store'))).toEqual({ noStore: true, noCache: false });
    expect(probe.directives(withHeader(['max-age=soon', 'no-cache']))).toEqual({
      noStore: false,
      noCache: true,
    });
    expect(probe.directives(http('GET', '/a'))).toEqual({ noStore: false, noCache: false });
  });

  it('rejects bad @CacheResponse options at decoration time, naming the field', () => {
    expect(() => CacheResponse({ ttlMs: 0 })).toThrow(/ttlMs/);
    expect(() => CacheResponse({ ttlMs: Number.NaN })).toThrow(/ttlMs/);
    expect(() => CacheResponse({ methods: [] })).toThrow(/methods/);
    expect(() => CacheResponse({ methods: ['GET /x'] })).toThrow(/methods/);
  });
});
