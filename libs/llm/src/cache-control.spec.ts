import { describe, expect, it } from '@jest/globals';
import { parseCacheControl } from './cache-control.js';
import { LlmCacheControlError } from './llm-cache.errors.js';

describe('parseCacheControl', () => {
  it('reads RFC 9111 request directives from the header', () => {
    expect(parseCacheControl('no-store')).toEqual({ noStore: true });
    expect(parseCacheControl('No-Cache, max-age=60')).toEqual({ noCache: true, maxAgeMs: 60_000 });
    expect(parseCacheControl('only-if-cached')).toEqual({ onlyIfCached: true });
    expect(parseCacheControl('max-age="5"')).toEqual({ maxAgeMs: 5000 });
  });

  it('ignores header directives it does not know, as RFC 9111 requires', () => {
    expect(parseCacheControl('max-stale, no-transform')).toEqual({});
    expect(parseCacheControl(undefined)).toEqual({});
  });

  it('reads the body cache object in both spellings', () => {
    expect(parseCacheControl(undefined, { 'no-store': true, 'max-age': 60 })).toEqual({
      noStore: true,
      maxAgeMs: 60_000,
    });
    expect(parseCacheControl(undefined, { noCache: true, maxAgeSeconds: 2 })).toEqual({
      noCache: true,
      maxAgeMs: 2000,
    });
    expect(parseCacheControl(undefined, { onlyIfCached: true, maxAgeMs: 1500 })).toEqual({
      onlyIfCached: true,
      maxAgeMs: 1500,
    });
  });

  it('merges header and body: flags add up and the smaller max-age wins', () => {
    expect(parseCacheControl('max-age=60', { 'max-age': 10, noCache: true })).toEqual({
      noCache: true,
      maxAgeMs: 10_000,
    });
  });

  it.each([
    ['max-age=abc', undefined, 'max-age'],
    ['max-age=-1', undefined, 'max-age'],
    [undefined, { 'no-store': 'yes' }, 'cache.no-store'],
    [undefined, { 'max-age': 1.5 }, 'max-age'],
    [undefined, { maxAgeMs: -5 }, 'cache.maxAgeMs'],
    [undefined, { nostore: true }, 'cache.nostore'],
    [undefined, 'no-store', 'cache'],
  ])('rejects %p / %p naming %s', (header, body, param) => {
    let error: unknown;
    try {
      parseCacheControl(header as string | undefined, body);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LlmCacheControlError);
    expect((error as LlmCacheControlError).status).toBe(400);
    expect((error as LlmCacheControlError).param).toBe(param);
    expect((error as Error).message).toContain(param.replace(/^cache\.?/, '') || 'cache');
  });
});
