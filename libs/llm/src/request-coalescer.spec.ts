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
