import type { ChatCompletionChunk } from './llm.types.js';

const TRIM_BATCH = 256;

export interface ChunkBroadcastOptions {
  /**
   * Past this many bytes of chunk JSON the sequence is no longer kept for storage (`isCapturing` turns false) and
   * chunks every reader has passed are dropped, so a huge answer still reaches its reader in bounded memory.
   */
  maxCaptureBytes?: number;
}

/**
 * The chunks of one upstream stream, read once and buffered for whoever reads them, at their own pace. Decouples
 * the upstream (and the capture for the cache) from the speed of the leader's caller, so followers waiting for the
 * entry never depend on how (or whether) the leader's caller reads.
 */
export class ChunkBroadcast {
  private buffer: ChatCompletionChunk[] = [];
  /** Position in the whole sequence of `buffer[0]` (non-zero once the capture overflowed and was trimmed). */
  private offset = 0;
  private bytes = 0;
  private capturing = true;
  private ended = false;
  private error: unknown;
  private waiters: Array<() => void> = [];
  /** Next position of every reader that has started, so a trim never drops what one of them has not read. */
  private readonly cursors = new Set<{ next: number }>();
  private readonly maxCaptureBytes: number;

  constructor(options: ChunkBroadcastOptions = {}) {
    this.maxCaptureBytes = options.maxCaptureBytes ?? Infinity;
  }

  /** The whole sequence while `isCapturing`; after an overflow, only the chunks some reader has yet to read. */
  get chunks(): ChatCompletionChunk[] {
    return this.buffer;
  }

  /** Whether `chunks` still holds the complete sequence (within `maxCaptureBytes`). */
  get isCapturing(): boolean {
    return this.capturing;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  push(chunk: ChatCompletionChunk): void {
    if (this.ended) return;
    this.buffer.push(chunk);
    if (this.capturing && Number.isFinite(this.maxCaptureBytes)) {
      // An estimate (UTF-16 length of the JSON) is enough to bound memory; exact sizing is the store's job.
      this.bytes += JSON.stringify(chunk).length;
      if (this.bytes > this.maxCaptureBytes) this.capturing = false;
    }
    if (!this.capturing) this.trim();
    this.wake();
  }

  /** Ends the stream; with an error, readers get it after the chunks they have not read yet. */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.wake();
  }

  /** Every chunk from the start (or from the oldest one kept); with `signal`, rejects once it aborts. */
  async *read(signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    const cursor = { next: this.offset };
    this.cursors.add(cursor);
    const onAbort = () => this.wake();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        cursor.next = Math.max(cursor.next, this.offset);
        if (cursor.next < this.offset + this.buffer.length) {
          const chunk = this.buffer[cursor.next - this.offset];
          cursor.next++;
          if (!this.capturing) this.trim();
          yield chunk;
          continue;
        }
        if (this.ended) {
          if (this.error !== undefined) throw this.error;
          return;
        }
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    } finally {
      this.cursors.delete(cursor);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Drops the chunks every started reader has passed. Without a reader yet, nothing can be dropped. */
  private trim(): void {
    if (this.cursors.size === 0) return;
    let min = Infinity;
    for (const c of this.cursors) min = Math.min(min, c.next);
    const drop = min - this.offset;
    // In batches unless the readers have caught up, so a reader behind a long backlog costs no copy per chunk.
    if (drop <= 0 || (drop < this.buffer.length && drop < TRIM_BATCH)) return;
    this.buffer = this.buffer.slice(drop);
    this.offset = min;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
