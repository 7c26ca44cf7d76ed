import { describe, expect, it } from '@jest/globals';
import {
  CacheControlError,
  mergeCacheControl,
  parseCacheControlHeader,
  parseDeltaSeconds,
} from './cache-control.js';
import { HttpStatusError } from './http-status.error.js';

describe('parseCacheControlHeader', () => {
  it('reads the RFC 9111 request directives, names case-insensitive, values possibly quoted', () => {
    expect(parseCacheControlHeader('No-Store')).toEqual({ noStore: true });
    expect(parseCacheControlHeader('no-cache, max-age=60')).toEqual({ noCache: true, maxAgeMs: 60_000 });
    expect(parseCacheControlHeader('only-if-cached, max-age="5"')).toEqual({
      onlyIfCached: true,
      maxAgeMs: 5000,
    });
  });

  it('joins several header lines and ignores directives it does not know', () => {
    expect(parseCacheControlHeader(['max-stale', 'no-transform, no-store'])).toEqual({ noStore: true });
    expect(parseCacheControlHeader(undefined)).toEqual({});
  });

  it('throws a 400 naming max-age for a malformed value', () => {
    for (const header of ['max-age=soon', 'max-age=-1', 'max-age=1.5', 'max-age']) {
      let error: unknown;
      try {
        parseCacheControlHeader(header);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(CacheControlError);
      expect(error).toBeInstanceOf(HttpStatusError);
      expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'max-age' });
    }
    expect(() => parseCacheControlHeader('no-store,'.repeat(200))).toThrow(/too long/);
  });

  it("in 'ignore' mode keeps the flags and drops a value it cannot read", () => {
    expect(parseCacheControlHeader('max-age=soon, no-store', 'ignore')).toEqual({ noStore: true });
    expect(parseCacheControlHeader(`no-cache, ${'x'.repeat(2000)}`, 'ignore')).toEqual({ noCache: true });
  });
});

describe('parseDeltaSeconds', () => {
  it('accepts a whole number of seconds as a number or decimal text', () => {
    expect(parseDeltaSeconds('max-age', 0)).toBe(0);
    expect(parseDeltaSeconds('max-age', '120')).toBe(120);
    expect(() => parseDeltaSeconds('maxAgeSeconds', '2s')).toThrow(CacheControlError);
  });
});

describe('mergeCacheControl', () => {
  it('adds flags up and keeps the smallest max-age', () => {
    expect(
      mergeCacheControl({ noStore: true, maxAgeMs: 60_000 }, {}, { noCache: true, maxAgeMs: 10_000 }),
    ).toEqual({ noStore: true, noCache: true, maxAgeMs: 10_000 });
    expect(mergeCacheControl({}, {})).toEqual({});
  });
});
