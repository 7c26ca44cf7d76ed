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
  const json = toJson(value);
  if (Buffer.byteLength(json) <= compressThresholdBytes) return json;
  return json.length > ASYNC_ZLIB_BYTES ? gzipAsync(json) : gzipSync(json);
}

/** `encodeEntry` without the thread pool: for a caller that must issue the write before yielding the tick. */
export function encodeEntrySync(value: unknown, compressThresholdBytes: number): Buffer | string {
  const json = toJson(value);
  return Buffer.byteLength(json) <= compressThresholdBytes ? json : gzipSync(json);
}

function toJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('value is not JSON-serializable');
  return json;
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
