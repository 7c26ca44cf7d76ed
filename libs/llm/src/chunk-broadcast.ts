import type { ChatCompletionChunk } from './llm.types.js';

/**
 * The chunks of one upstream stream, read once and buffered for whoever reads them, at their own pace. Decouples
 * the upstream (and the capture for the cache) from the speed of the leader's caller, so followers waiting for the
 * entry never depend on how (or whether) the leader's caller reads.
 */
export class ChunkBroadcast {
  readonly chunks: ChatCompletionChunk[] = [];
  private ended = false;
  private error: unknown;
  private waiters: Array<() => void> = [];

  get isEnded(): boolean {
    return this.ended;
  }

  push(chunk: ChatCompletionChunk): void {
    if (this.ended) return;
    this.chunks.push(chunk);
    this.wake();
  }

  /** Ends the stream; with an error, readers get it after the chunks they have not read yet. */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.wake();
  }

  async *read(): AsyncGenerator<ChatCompletionChunk> {
    let next = 0;
    for (;;) {
      if (next < this.chunks.length) {
        yield this.chunks[next++];
        continue;
      }
      if (this.ended) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
