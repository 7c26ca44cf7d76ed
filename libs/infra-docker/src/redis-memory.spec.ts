import { describe, expect, it } from '@jest/globals';
import { formatBytes, parseRedisMemory } from './redis-memory.js';

describe('Redis memory notation', () => {
  it.each([
    ['0', 0],
    ['1024', 1024],
    ['1k', 1000],
    ['1kb', 1024],
    ['256mb', 256 * 1024 ** 2],
    ['256MB', 256 * 1024 ** 2],
    ['2m', 2_000_000],
    ['1gb', 1024 ** 3],
    ['1g', 1e9],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseRedisMemory(text)).toBe(bytes);
  });

  it.each(['', 'lots', '-1mb', '1.5gb', '1tb', '10 mb', 'mb'])('refuses %j like Redis does', (text) => {
    expect(parseRedisMemory(text)).toBeUndefined();
  });

  it('formats sizes for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3.3 * 1024 ** 2)).toBe('3.3 MiB');
    expect(formatBytes(512 * 1024 ** 2)).toBe('512 MiB');
  });
});
