import { gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
/** Above this, (de)compression moves to libuv's thread pool instead of blocking the event loop. */
const ASYNC_ZLIB_BYTES = 64 * 1024;

/**
 * Values are stored as JSON text, or as gzip of it when large. JSON text never starts with gzip's magic bytes
 * (0x1f 0x8b), so the format needs no extra header and plain entries stay readable with `redis-cli GET`.
 */
export async function encodeEntry(value: unknown, compressThresholdBytes: number): Promise<Buffer | string> {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('value is not JSON-serializable');
  if (Buffer.byteLength(json) <= compressThresholdBytes) return json;
  return json.length > ASYNC_ZLIB_BYTES ? gzipAsync(json) : gzipSync(json);
}

export async function decodeEntry<T>(raw: Buffer): Promise<T> {
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    const text = raw.length > ASYNC_ZLIB_BYTES ? await gunzipAsync(raw) : gunzipSync(raw);
    return JSON.parse(text.toString('utf8')) as T;
  }
  return JSON.parse(raw.toString('utf8')) as T;
}

export function entryByteLength(encoded: Buffer | string): number {
  return typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.length;
}
