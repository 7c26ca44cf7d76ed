import { Injectable } from '@nestjs/common';

/**
 * How an in-process flight ended: with a value to share, or without one. `alone` means the leader succeeded but has
 * nothing it can share (an answer too large to capture): followers call the provider themselves, all at once,
 * instead of one after another. A plain `{ ok: false }` is a failure followers must not inherit: one of them leads.
 */
export type FlightOutcome<T> = { ok: true; value: T } | { ok: false; alone?: boolean };

export interface Flight<T> {
  /** Hands the outcome to every follower and frees the key for the next leader. Idempotent. */
  settle(outcome: FlightOutcome<T>): void;
  /** How many callers are waiting for this flight right now. */
  readonly followers: number;
}

interface Running<T> {
  promise: Promise<FlightOutcome<T>>;
  waiting: number;
}

/**
 * One leader per key in this process: the first caller leads, later callers follow and receive the leader's value.
 * A failed leader settles with `{ ok: false }`, so followers retry instead of receiving its error.
 */
@Injectable()
export class RequestCoalescer<T> {
  private readonly flights = new Map<string, Running<T>>();

  get size(): number {
    return this.flights.size;
  }

  /** Becomes the leader for `key`, or returns undefined when a flight is already running. */
  lead(key: string): Flight<T> | undefined {
    if (this.flights.has(key)) return undefined;
    let resolve!: (outcome: FlightOutcome<T>) => void;
    const running: Running<T> = { promise: new Promise((r) => (resolve = r)), waiting: 0 };
    this.flights.set(key, running);
    let settled = false;
    return {
      settle: (outcome) => {
        if (settled) return;
        settled = true;
        if (this.flights.get(key) === running) this.flights.delete(key);
        resolve(outcome);
      },
      get followers() {
        return running.waiting;
      },
    };
  }

  /**
   * Waits for the running flight of `key`: its outcome, `'timeout'` after `timeoutMs` or when `signal` aborts, or
   * `'none'` when nothing is in flight. The wait is bounded so a leader whose caller never reads its stream cannot
   * hold followers forever.
   */
  async follow(
    key: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<FlightOutcome<T> | 'timeout' | 'none'> {
    const running = this.flights.get(key);
    if (!running) return 'none';
    // An abort that happened already never fires its event.
    if (signal?.aborted) return 'timeout';
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    running.waiting++;
    try {
      return await Promise.race([
        running.promise,
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
          onAbort = () => resolve('timeout');
          signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      running.waiting--;
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }
}
