import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';

function breakerWithClock(threshold = 3, resetTimeoutMs = 1000) {
  const clock = { now: 10_000 };
  const changes: CircuitState[] = [];
  const breaker = new CircuitBreaker(
    threshold,
    resetTimeoutMs,
    (s) => changes.push(s),
    () => clock.now,
  );
  return { breaker, clock, changes };
}

describe('CircuitBreaker', () => {
  it('stays closed and lets every call through while failures stay below the threshold', () => {
    const { breaker, changes } = breakerWithClock(3);
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.current).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(changes).toEqual([]);
  });

  it('counts consecutive failures only: a success in between starts the count again', () => {
    const { breaker } = breakerWithClock(3);
    breaker.recordFailure();
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.current).toBe('closed');
    breaker.recordFailure();
    expect(breaker.current).toBe('open');
  });

  it('opens at the threshold and refuses calls until resetTimeoutMs has passed', () => {
    const { breaker, clock, changes } = breakerWithClock(3, 1000);
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    expect(breaker.current).toBe('open');
    expect(changes).toEqual(['open']);
    expect(breaker.tryAcquire()).toBe(false);
    clock.now += 999;
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.current).toBe('open');
  });

  it('after resetTimeoutMs lets exactly one probe through (half-open), refusing the others while it runs', () => {
    const { breaker, clock, changes } = breakerWithClock(1, 1000);
    breaker.recordFailure();
    clock.now += 1000;
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.current).toBe('half-open');
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.tryAcquire()).toBe(false);
    expect(changes).toEqual(['open', 'half-open']);
  });

  it('closes when the probe succeeds and then lets every call through', () => {
    const { breaker, clock, changes } = breakerWithClock(1, 1000);
    breaker.recordFailure();
    clock.now += 1500;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordSuccess();
    expect(breaker.current).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('re-opens when the probe fails, for another full resetTimeoutMs', () => {
    const { breaker, clock, changes } = breakerWithClock(5, 1000);
    for (let i = 0; i < 5; i++) breaker.recordFailure();
    clock.now += 1000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordFailure();
    expect(breaker.current).toBe('open');
    clock.now += 500;
    expect(breaker.tryAcquire()).toBe(false);
    clock.now += 500;
    expect(breaker.tryAcquire()).toBe(true);
    expect(changes).toEqual(['open', 'half-open', 'open', 'half-open']);
  });

  it('reset() closes an open breaker at once (a fresh connection is proof enough)', () => {
    const { breaker, changes } = breakerWithClock(1, 60_000);
    breaker.recordFailure();
    expect(breaker.tryAcquire()).toBe(false);
    breaker.reset();
    expect(breaker.current).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    expect(changes).toEqual(['open', 'closed']);
    breaker.reset();
    expect(changes).toEqual(['open', 'closed']);
  });
});
