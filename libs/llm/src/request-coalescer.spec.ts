import { describe, expect, it } from '@jest/globals';
import { RequestCoalescer } from './request-coalescer.js';

describe('RequestCoalescer', () => {
  it('makes the first caller the leader and hands its value to followers', async () => {
    const c = new RequestCoalescer<string>();
    const flight = c.lead('k')!;
    expect(c.lead('k')).toBeUndefined();
    const followers = [c.follow('k', 1000), c.follow('k', 1000)];
    flight.settle({ ok: true, value: 'answer' });
    expect(await Promise.all(followers)).toEqual([
      { ok: true, value: 'answer' },
      { ok: true, value: 'answer' },
    ]);
    expect(c.size).toBe(0);
  });

  it('tells followers that the leader failed, without its error, and frees the key', async () => {
    const c = new RequestCoalescer<string>();
    const flight = c.lead('k')!;
    const follower = c.follow('k', 1000);
    flight.settle({ ok: false });
    expect(await follower).toEqual({ ok: false });
    expect(c.lead('k')).toBeDefined();
  });

  it('bounds a follower wait and reports none when nothing is in flight', async () => {
    const c = new RequestCoalescer<string>();
    expect(await c.follow('k', 10)).toBe('none');
    c.lead('k');
    const start = Date.now();
    expect(await c.follow('k', 30)).toBe('timeout');
    expect(Date.now() - start).toBeLessThan(500);
  });

  it('ignores a second settle', async () => {
    const c = new RequestCoalescer<string>();
    const flight = c.lead('k')!;
    const follower = c.follow('k', 1000);
    flight.settle({ ok: true, value: 'first' });
    const next = c.lead('k')!;
    flight.settle({ ok: false });
    expect(await follower).toEqual({ ok: true, value: 'first' });
    expect(c.lead('k')).toBeUndefined();
    next.settle({ ok: false });
  });
});

describe('RequestCoalescer follower bookkeeping', () => {
  it('returns at once for a signal that was aborted before the wait began', async () => {
    const c = new RequestCoalescer<string>();
    const flight = c.lead('k')!;
    const start = Date.now();
    expect(await c.follow('k', 5000, AbortSignal.abort())).toBe('timeout');
    expect(Date.now() - start).toBeLessThan(1000);
    flight.settle({ ok: false });
  });

  it('counts the followers waiting for a flight', async () => {
    const c = new RequestCoalescer<string>();
    const flight = c.lead('k')!;
    expect(flight.followers).toBe(0);
    const waits = [c.follow('k', 1000), c.follow('k', 20)];
    expect(flight.followers).toBe(2);
    expect(await waits[1]).toBe('timeout');
    expect(flight.followers).toBe(1);
    flight.settle({ ok: false, alone: true });
    expect(await waits[0]).toEqual({ ok: false, alone: true });
    expect(flight.followers).toBe(0);
  });
});
