/** Successful command latencies kept to estimate the recent p99 (a ring: old samples fall out as new ones come). */
const WINDOW = 512;
/** The p99 is re-estimated every this many samples, not on every command (a sort of the window each time). */
const REESTIMATE_EVERY = 64;
/** Below this many samples there is no p99 worth trusting: the cap applies. */
const MIN_SAMPLES = 64;
/** The deadline stays at least this multiple of the recent peak (a stall Redis came back from). */
const PEAK_MULTIPLIER = 2;
/** The remembered peak halves every this many ms: a host that made Redis stall lately may well do it again. */
const PEAK_HALF_LIFE_MS = 60_000;

export interface CommandDeadlineOptions {
  /** The fixed upper bound (`commandTimeoutMs`): never waited longer than this. */
  capMs: number;
  /** Never shorter than this, however fast Redis has been. */
  floorMs: number;
  /** Deadline = this × the recent p99 of successful commands, between the floor and the cap. */
  p99Multiplier: number;
}

/**
 * How long the connection may stay silent before a cache command counts as failed, adapted to what Redis has
 * shown lately: a fixed 50 ms makes every request in flight pay 50 ms when Redis hangs, while on loopback a
 * healthy command takes well under a millisecond. Latencies are measured on the event loop's idle clock (time this
 * process waited with nothing else to do), so a busy process does not inflate them.
 *
 * The deadline is `p99Multiplier` × the recent p99, and at least `PEAK_MULTIPLIER` × the recent peak — the longest
 * wait Redis answered (or answered too late, but within the cap) lately, decaying with a half-life of
 * `PEAK_HALF_LIFE_MS`. The p99 is counted per command, but a stall hits every command in flight at once and is rare
 * per command: without the peak, a Redis that stalls for 12 ms every few seconds (not scheduled on a busy host, a
 * fork) would fail every command in flight at each stall under a 10 ms deadline, where the fixed 50 ms served them.
 * A timed-out command counts as a sample at its deadline (one per silence), so a Redis that became slower (not hung)
 * pushes the deadline up towards the cap instead of timing out forever.
 */
export class CommandDeadline {
  private readonly samples = new Float64Array(WINDOW);
  private count = 0;
  private next = 0;
  private deadlineMs: number;
  private peakMs = 0;
  private peakAtMs = 0;

  constructor(
    protected readonly options: CommandDeadlineOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.deadlineMs = options.capMs;
  }

  /** The deadline for the next command, in ms. */
  get currentMs(): number {
    return this.deadlineMs;
  }

  /** A command answered after `ms` (of idle time). */
  recordSuccess(ms: number): void {
    this.raisePeak(ms);
    this.push(ms);
  }

  /**
   * A command that had timed out was answered after all, `ms` after it was sent: its deadline was too short.
   * Counted into the peak only when the answer came within the cap (the fixed bound would have served it): one that
   * came after a long hang says nothing about how long to wait.
   */
  recordLateReply(ms: number, withinCap: boolean): void {
    if (withinCap) this.raisePeak(ms);
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

  /** The remembered peak wait (ms), decayed to now. */
  peakNow(): number {
    if (this.peakMs === 0) return 0;
    return this.peakMs * 0.5 ** ((this.now() - this.peakAtMs) / PEAK_HALF_LIFE_MS);
  }

  private raisePeak(ms: number): void {
    if (ms <= this.peakNow()) return;
    this.peakMs = ms;
    this.peakAtMs = this.now();
    // At once when it lengthens the deadline (a stall just survived may come again now), not 64 samples later.
    if (this.count >= MIN_SAMPLES && PEAK_MULTIPLIER * ms > this.deadlineMs) this.reestimate();
  }

  private push(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % WINDOW;
    this.count++;
    if (this.count >= MIN_SAMPLES && this.count % REESTIMATE_EVERY === 0) this.reestimate();
  }

  private reestimate(): void {
    const { capMs, floorMs, p99Multiplier } = this.options;
    const wantedMs = Math.max(floorMs, p99Multiplier * this.p99(), PEAK_MULTIPLIER * this.peakNow());
    this.deadlineMs = Math.min(capMs, wantedMs);
  }
}
