/** Successful command latencies kept to estimate the recent p99 (a ring: old samples fall out as new ones come). */
const WINDOW = 512;
/** The p99 is re-estimated every this many samples, not on every command (a sort of the window each time). */
const REESTIMATE_EVERY = 64;
/** Below this many samples there is no p99 worth trusting: the cap applies. */
const MIN_SAMPLES = 64;

export interface CommandDeadlineOptions {
  /** The fixed upper bound (`commandTimeoutMs`): never waited longer than this. */
  capMs: number;
  /** Never shorter than this, however fast Redis has been (a GC pause or a busy event loop must not time out). */
  floorMs: number;
  /** Deadline = this × the recent p99 of successful commands, between the floor and the cap. */
  p99Multiplier: number;
}

/**
 * How long one cache command may take before it counts as failed, adapted to the latency Redis has shown lately:
 * a fixed 50 ms makes every request in flight pay 50 ms when Redis hangs, while on loopback a healthy command
 * takes well under a millisecond. A timed-out command counts as a sample at its deadline, so a Redis that became
 * slower (not hung) pushes the deadline up towards the cap instead of timing out forever.
 */
export class CommandDeadline {
  private readonly samples = new Float64Array(WINDOW);
  private count = 0;
  private next = 0;
  private deadlineMs: number;

  constructor(protected readonly options: CommandDeadlineOptions) {
    this.deadlineMs = options.capMs;
  }

  /** The deadline for the next command, in ms. */
  get currentMs(): number {
    return this.deadlineMs;
  }

  /** A command answered after `ms`. */
  recordSuccess(ms: number): void {
    this.push(ms);
  }

  /** A command gave up at its deadline: counted as at least that slow. */
  recordTimeout(deadlineMs: number): void {
    this.push(deadlineMs);
    // At once, not at the next periodic estimate: a Redis that became slower must not keep timing out.
    if (this.count >= MIN_SAMPLES) this.reestimate();
  }

  /** The recent p99 (ms) of the window; NaN before any sample. */
  p99(): number {
    const n = Math.min(this.count, WINDOW);
    if (n === 0) return NaN;
    const sorted = this.samples.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.ceil(n * 0.99) - 1)];
  }

  private push(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % WINDOW;
    this.count++;
    if (this.count >= MIN_SAMPLES && this.count % REESTIMATE_EVERY === 0) this.reestimate();
  }

  private reestimate(): void {
    const { capMs, floorMs, p99Multiplier } = this.options;
    this.deadlineMs = Math.min(capMs, Math.max(floorMs, p99Multiplier * this.p99()));
  }
}
