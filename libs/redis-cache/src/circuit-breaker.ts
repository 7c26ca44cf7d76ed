export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A consecutive-failure breaker. While open, cache calls are not attempted at all, so a dead or hung Redis costs a
 * request nothing; after `resetTimeoutMs` one probe call goes through and its outcome closes or re-opens it.
 */
export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failures = 0;
  private openedAtMs = 0;
  private probeInFlight = false;

  constructor(
    private readonly failureThreshold: number,
    private readonly resetTimeoutMs: number,
    private readonly onChange: (state: CircuitState) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): CircuitState {
    return this.state;
  }

  /** Whether a call may be attempted now; in half-open, only the single probe may. */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.now() - this.openedAtMs < this.resetTimeoutMs) return false;
      this.transition('half-open');
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.probeInFlight = false;
    if (this.state !== 'closed') this.transition('closed');
  }

  recordFailure(): void {
    this.probeInFlight = false;
    this.failures++;
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.failureThreshold)) {
      this.openedAtMs = this.now();
      this.transition('open');
    }
  }

  /** Closes the breaker without a probe (the client reported a fresh, ready connection). */
  reset(): void {
    this.failures = 0;
    this.probeInFlight = false;
    if (this.state !== 'closed') this.transition('closed');
  }

  private transition(state: CircuitState): void {
    this.state = state;
    this.onChange(state);
  }
}
