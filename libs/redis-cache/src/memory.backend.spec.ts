import { describe, expect, it } from '@jest/globals';
import { compileGlob, MemoryBackend } from './memory.backend.js';

function backendWithClock(maxItems?: number) {
  const clock = { now: 1_000_000 };
  return { backend: new MemoryBackend(maxItems, () => clock.now), clock };
}

const text = (b: Buffer | null) => b?.toString('utf8') ?? null;

describe('MemoryBackend', () => {
  it('returns a value until its TTL passes, then nothing', async () => {
    const { backend, clock } = backendWithClock();
    await backend.set('k', 'v', 1000, false);
    clock.now += 999;
    expect(text(await backend.get('k'))).toBe('v');
    clock.now += 1;
    expect(await backend.get('k')).toBeNull();
  });

  it('SET NX writes only when the key is absent or expired', async () => {
    const { backend, clock } = backendWithClock();
    expect(await backend.set('lock', 'a', 100, true)).toBe(true);
    expect(await backend.set('lock', 'b', 100, true)).toBe(false);
    expect(text(await backend.get('lock'))).toBe('a');
    clock.now += 100;
    expect(await backend.set('lock', 'c', 100, true)).toBe(true);
    expect(text(await backend.get('lock'))).toBe('c');
  });

  it('deletes a lock only while it still holds the expected owner token', async () => {
    const { backend } = backendWithClock();
    await backend.set('lock', 'owner-1', 1000, false);
    expect(await backend.deleteIfEquals('lock', 'owner-2')).toBe(false);
    expect(await backend.deleteIfEquals('lock', 'owner-1')).toBe(true);
    expect(await backend.get('lock')).toBeNull();
  });

  it('counts only live keys as deleted', async () => {
    const { backend, clock } = backendWithClock();
    await backend.set('a', '1', 10, false);
    await backend.set('b', '1', 1000, false);
    clock.now += 10;
    expect(await backend.delete(['a', 'b', 'missing'])).toBe(1);
  });

  it('evicts the oldest writes beyond its item cap; a rewrite makes a key young again', async () => {
    const { backend } = backendWithClock(3);
    for (const k of ['a', 'b', 'c']) await backend.set(k, k, 60_000, false);
    await backend.set('a', 'a2', 60_000, false);
    await backend.set('d', 'd', 60_000, false);
    expect(await backend.get('b')).toBeNull();
    expect(text(await backend.get('a'))).toBe('a2');
    expect(text(await backend.get('c'))).toBe('c');
    expect(text(await backend.get('d'))).toBe('d');
  });

  it('MGET returns values in order with null for misses', async () => {
    const { backend } = backendWithClock();
    await backend.set('x', '1', 1000, false);
    expect((await backend.mget(['x', 'y'])).map(text)).toEqual(['1', null]);
  });

  it('scanDelete removes exactly the live keys matching the glob', async () => {
    const { backend } = backendWithClock();
    for (const k of ['p:llm:1', 'p:llm:2', 'p:other', 'q:llm:1']) await backend.set(k, '1', 1000, false);
    expect(await backend.scanDelete('p:llm:*')).toEqual({ deleted: 2, complete: true });
    expect(await backend.get('p:other')).not.toBeNull();
    expect(await backend.get('q:llm:1')).not.toBeNull();
  });

  it('adds to hash counters and reads them back as strings', async () => {
    const { backend } = backendWithClock();
    await backend.incrementHash('stats', { hits: 2, misses: 1 }, 1000);
    await backend.incrementHash('stats', { hits: 3, saved: 0.5 }, 1000);
    expect(await backend.getHash('stats')).toEqual({ hits: '5', misses: '1', saved: '0.5' });
    expect(await backend.getHash('none')).toEqual({});
  });
});

describe('compileGlob (Redis MATCH semantics)', () => {
  const cases: Array<[glob: string, matches: string[], misses: string[]]> = [
    ['llm:*', ['llm:', 'llm:abc', 'llm:a:b', 'llm:line\nbreak'], ['llm', 'xllm:a']],
    ['h?llo', ['hello', 'hallo', 'h\nllo'], ['hllo', 'heello']],
    ['h[ae]llo', ['hello', 'hallo'], ['hillo']],
    ['h[^e]llo', ['hallo', 'hbllo'], ['hello']],
    ['h[a-c]llo', ['hallo', 'hbllo', 'hcllo'], ['hdllo']],
    ['h[c-a]llo', ['hbllo'], ['hdllo']],
    ['a\\*b', ['a*b'], ['axb', 'a\\*b']],
    ['a\\?b', ['a?b'], ['axb']],
    ['a\\[b]', ['a[b]'], ['ab']],
    ['x[\\]]y', ['x]y'], ['x\\y']],
    ['x[a\\-z]y', ['xay', 'x-y', 'xzy'], ['xby']],
    ['a.b+c(d)|e$', ['a.b+c(d)|e$'], ['axbbc(d)|e$', 'a.b+cd']],
    ['x[]y', [], ['xy', 'x]y']],
    ['[abc', ['a', 'b'], ['[abc', 'd']],
    ['end\\', ['end\\'], ['end']],
  ];
  it.each(cases)('%s', (glob, matches, misses) => {
    const re = compileGlob(glob);
    for (const s of matches) expect([s, re.test(s)]).toEqual([s, true]);
    for (const s of misses) expect([s, re.test(s)]).toEqual([s, false]);
  });

  it('is linear: a pathological pattern (*?*?…a) against a long key that does not match finishes in < 50 ms', () => {
    const glob = '*?'.repeat(40) + 'a';
    const key = 'b'.repeat(4000);
    const start = performance.now();
    const matcher = compileGlob(glob);
    expect(matcher.test(key)).toBe(false);
    expect(matcher.test(key + 'a')).toBe(true);
    expect(performance.now() - start).toBeLessThan(50);
    // The former RegExp translation did not finish within a minute with 6 `*?` on a 200-character key.
  });

  it('matches an escaped prefix literally, so glob characters in a prefix cannot widen a clear', () => {
    const re = compileGlob('my\\*app:llm:*');
    expect(re.test('my*app:llm:1')).toBe(true);
    expect(re.test('myXapp:llm:1')).toBe(false);
  });
});
