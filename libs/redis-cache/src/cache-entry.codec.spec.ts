import { describe, expect, it } from '@jest/globals';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeEntry, encodeEntry, encodeEntrySync, entryByteLength } from './cache-entry.codec.js';

describe('cache entry codec', () => {
  it('stores small values as plain JSON text, readable with redis-cli GET', async () => {
    const encoded = await encodeEntry({ a: 1, b: ['x'] }, 1024);
    expect(encoded).toBe('{"a":1,"b":["x"]}');
  });

  it('round-trips nested objects, arrays, unicode and numbers exactly', async () => {
    const value = {
      text: 'héllo — 世界 🚀',
      nested: { list: [1, 2.5, -3e-7, null, true, { deep: 'ok' }], empty: {} },
      zero: 0,
    };
    const encoded = await encodeEntry(value, 1_000_000);
    expect(await decodeEntry(Buffer.from(encoded))).toEqual(value);
  });

  it('gzips JSON above the threshold (gzip magic 1f 8b) and decodes it back', async () => {
    const value = { text: 'a'.repeat(5000) };
    const encoded = await encodeEntry(value, 4096);
    expect(Buffer.isBuffer(encoded)).toBe(true);
    const buf = encoded as Buffer;
    expect([buf[0], buf[1]]).toEqual([0x1f, 0x8b]);
    expect(buf.length).toBeLessThan(500);
    expect(JSON.parse(gunzipSync(buf).toString('utf8'))).toEqual(value);
    expect(await decodeEntry(buf)).toEqual(value);
  });

  it('measures the threshold in bytes, not characters (multi-byte text)', async () => {
    const value = 'é'.repeat(30); // 30 chars, 60 bytes of UTF-8, 62 with quotes
    expect(typeof (await encodeEntry(value, 62))).toBe('string');
    expect(Buffer.isBuffer(await encodeEntry(value, 61))).toBe(true);
  });

  it('uses the thread-pool path for large bodies with the same result', async () => {
    const value = { rows: Array.from({ length: 5000 }, (_, i) => ({ i, s: `row-${i}` })) };
    const encoded = (await encodeEntry(value, 1024)) as Buffer;
    expect(JSON.stringify(value).length).toBeGreaterThan(64 * 1024);
    expect(encoded[0]).toBe(0x1f);
    expect(await decodeEntry(encoded)).toEqual(value);
  });

  it('decodes gzip written by another producer, detected by its magic bytes alone', async () => {
    expect(await decodeEntry(gzipSync('{"x":[1,2]}'))).toEqual({ x: [1, 2] });
  });

  it('rejects values JSON cannot represent instead of storing "undefined"', async () => {
    await expect(encodeEntry(undefined, 10)).rejects.toThrow(/not JSON-serializable/);
    await expect(encodeEntry(() => 1, 10)).rejects.toThrow(/not JSON-serializable/);
  });

  it('fails to decode text that is not JSON (the service treats it as a miss)', async () => {
    await expect(decodeEntry(Buffer.from('not json'))).rejects.toThrow(SyntaxError);
  });

  it('reports the stored size in bytes', () => {
    expect(entryByteLength('€')).toBe(3);
    expect(entryByteLength(Buffer.alloc(7))).toBe(7);
  });

  it('encodeEntrySync gives what encodeEntry gives, without yielding (plain and gzip, also past the async size)', async () => {
    const small = { a: 'x'.repeat(10) };
    expect(encodeEntrySync(small, 1024)).toBe(await encodeEntry(small, 1024));
    const large = { a: 'y'.repeat(100 * 1024) };
    const sync = encodeEntrySync(large, 1024);
    expect(Buffer.isBuffer(sync)).toBe(true);
    expect(await decodeEntry(sync as Buffer)).toEqual(large);
    expect(() => encodeEntrySync(undefined, 1024)).toThrow(TypeError);
  });
});
