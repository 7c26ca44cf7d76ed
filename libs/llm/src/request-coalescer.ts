/** How an in-process flight ended: with a value to share, or with a failure followers must not inherit. */
export type FlightOutcome<T> = { ok: true; value: T } | { ok: false };

export interface Flight<T> {
  /** Hands the outcome to every follower and frees the key for the next leader. Idempotent. */
  settle(outcome: FlightOutcome<T>): void;
}

/**
 * One leader per key in this process: the first caller leads, later callers follow and receive the leader's value.
 * A failed leader settles with `{ ok: false }`, so followers retry instead of receiving its error.
 */
export class RequestCoalescer<T> {
  private readonly flights = new Map<string, Promise<FlightOutcome<T>>>();

  get size(): number {
    return this.flights.size;
  }

  /** Becomes the leader for `key`, or returns undefined when a flight is already running. */
  lead(key: string): Flight<T> | undefined {
    if (this.flights.has(key)) return undefined;
    let resolve!: (outcome: FlightOutcome<T>) => void;
    const promise = new Promise<FlightOutcome<T>>((r) => (resolve = r));
    this.flights.set(key, promise);
    let settled = false;
    return {
      settle: (outcome) => {
        if (settled) return;
        settled = true;
        if (this.flights.get(key) === promise) this.flights.delete(key);
        resolve(outcome);
      },
    };
  }

  /**
   * Waits for the running flight of `key`: its outcome, `'timeout'` after `timeoutMs`, or `'none'` when nothing is
   * in flight. The wait is bounded so a leader whose caller never reads its stream cannot hold followers forever.
   */
  async follow(
    key: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<FlightOutcome<T> | 'timeout' | 'none'> {
    const flight = this.flights.get(key);
    if (!flight) return 'none';
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        flight,
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
          onAbort = () => resolve('timeout');
          signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }
}
