import { Inject, Injectable, Logger } from '@nestjs/common';
import { ChunkBroadcast } from './chunk-broadcast.js';
import { LlmCacheAccounting } from './llm-cache.accounting.js';
import { LlmCacheEntries, NOT_STORED } from './llm-cache.entries.js';
import type { LlmStreamResult, ResolvedLlmCacheOptions } from './llm-cache.interfaces.js';
import { releaseAndSend, type Release } from './llm-call.coordinator.js';
import type { Found, LlmCallPlan } from './llm-call.plan.js';
import { callerAborted, LlmProviderError } from './llm-provider.error.js';
import type { ChatCompletionChunk } from './llm.types.js';
import { LLM_CACHE_RESOLVED_OPTIONS } from './llm.constants.js';
import { LlmUpstream, malformedResponse, type UpstreamStream } from './llm-upstream.js';
import {
  chunkForClient,
  entryToChunks,
  hasFinished,
  isCompleteStream,
  isWellFormedChunk,
  type LlmCacheEntry,
} from './stream.codec.js';

/**
 * Streams of cached calls: a leader's upstream stream is captured for the cache while it is relayed to the caller,
 * and a stored (or handed-over) entry is replayed chunk-for-chunk.
 */
@Injectable()
export class LlmStreamLeader {
  protected readonly logger = new Logger('LlmCacheService');

  constructor(
    @Inject(LlmUpstream) protected readonly upstream: LlmUpstream,
    @Inject(LlmCacheEntries) protected readonly entries: LlmCacheEntries,
    @Inject(LlmCacheAccounting) protected readonly accounting: LlmCacheAccounting,
    @Inject(LLM_CACHE_RESOLVED_OPTIONS) protected readonly options: ResolvedLlmCacheOptions,
  ) {}

  /**
   * A streamed miss: the upstream is read by a pump into a buffer (captured for the cache) while the caller reads the
   * buffer. An upstream error or an incomplete answer stores nothing. The caller stopping early or aborting cancels
   * the upstream call only when no follower in this process waits for it; otherwise the caller alone stops being
   * served and the answer is still captured, stored and handed to the followers. A coordinated leader may stay
   * silent at most `idleMs` (`coalescing.lockTtlMs`) before its first chunk and between two chunks; its duration
   * is not bounded (the coordinator extends the lock while it runs), so a long, healthy stream is never cut. A
   * stream nobody can wait for is bounded by the provider's idle timeout.
   */
  async leadStream(
    plan: LlmCallPlan,
    includeUsage: boolean,
    release: Release,
    followers: () => number = () => 0,
    idleMs?: number,
  ): Promise<{ stream: AsyncIterable<ChatCompletionChunk>; storedPromise: Promise<boolean> }> {
    const t0 = performance.now();
    const stop = this.upstream.abortFor(plan, followers);
    let capped = false;
    let cap: NodeJS.Timeout | undefined;
    /** (Re)starts the silence bound: called before the first chunk and on every chunk. */
    const rearm = () => {
      if (idleMs === undefined) return;
      clearTimeout(cap);
      cap = setTimeout(() => {
        capped = true;
        stop.abort();
      }, idleMs);
      cap.unref();
    };
    rearm();
    const cappedError = () =>
      new LlmProviderError(`upstream stream silent for ${idleMs} ms (coalescing.lockTtlMs)`, {
        status: 504,
        type: 'timeout',
        code: 'upstream_timeout',
      });
    let upstream: UpstreamStream;
    try {
      // Usage is always asked of the upstream (and hidden from a client that did not ask) so hits can count it.
      upstream = await this.upstream.openStream(
        plan,
        {
          ...plan.request,
          stream: true,
          stream_options: { ...(plan.request.stream_options ?? {}), include_usage: true },
        },
        stop.signal,
      );
    } catch (err) {
      clearTimeout(cap);
      stop.dispose();
      throw capped ? cappedError() : err;
    }
    const broadcast = new ChunkBroadcast({ maxCaptureBytes: this.entries.maxCaptureBytes() });
    const storedPromise = (async () => {
      let handoff: LlmCacheEntry | 'alone' | undefined;
      let stored = false;
      try {
        const clean = await this.pump(
          plan,
          upstream,
          broadcast,
          stop.signal,
          () => (capped ? cappedError() : undefined),
          rearm,
        );
        this.accounting.streamEnded(plan);
        if (clean && !broadcast.isCapturing) handoff = 'alone';
        else if (clean && hasFinished(broadcast.chunks)) {
          handoff = this.entries.create(plan, performance.now() - t0, { chunks: broadcast.chunks });
          // Stored together with the lock's release (one round trip); the `finally` below is then a no-op. The
          // caller's stream ends once the write is sent, so its next identical request finds the entry.
          const storable = isCompleteStream(broadcast.chunks, this.options.storeLengthFinish);
          const { storedPromise: written } = await releaseAndSend(release, handoff, storable);
          broadcast.end();
          stored = await written;
        }
      } catch (err) {
        // Never reject: the caller may not even look at storedPromise, and followers must be released.
        this.logger.warn(`not caching ${plan.key}: ${(err as Error).message}`);
        handoff = undefined;
        stored = false;
      } finally {
        clearTimeout(cap);
        stop.dispose();
        broadcast.end();
        await release(handoff).catch(() => undefined);
      }
      return stored;
    })();
    const callerSignal = plan.signal;
    async function* relay(): AsyncGenerator<ChatCompletionChunk> {
      try {
        for await (const chunk of broadcast.read(callerSignal)) {
          const out = chunkForClient(chunk, includeUsage);
          if (out) yield out;
        }
      } catch (err) {
        throw callerSignal?.aborted ? callerAborted('stream aborted by the caller') : err;
      } finally {
        // The caller stopped reading before the end: cancel the upstream call unless followers wait for it.
        if (!broadcast.isEnded && followers() === 0) stop.abort();
      }
    }
    return { stream: relay(), storedPromise };
  }

  /** An answer served from an entry (stored, or handed over by a leader) as a stream. */
  replay(
    plan: LlmCallPlan,
    found: Found,
    status: 'hit' | 'coalesced',
    includeUsage: boolean,
  ): LlmStreamResult {
    const chunks = entryToChunks(found.entry);
    async function* replay(): AsyncGenerator<ChatCompletionChunk> {
      for (const chunk of chunks) {
        const out = chunkForClient(chunk, includeUsage);
        if (out) yield out;
      }
    }
    const { cached, ageMs, key } = this.accounting.served(plan, found, status);
    return { stream: replay(), cached, status, ageMs, key, storedPromise: NOT_STORED };
  }

  /**
   * Reads the upstream to its end into `broadcast`; resolves whether it ended cleanly (never rejects). A failure ends
   * `broadcast` with its error; a clean end leaves it to the caller to end (once the entry's write is sent). Stops as
   * soon as `signal` aborts, even if the provider does not notice; `abortError` names a reason other than the caller.
   */
  protected async pump(
    plan: LlmCallPlan,
    upstream: UpstreamStream,
    broadcast: ChunkBroadcast,
    signal: AbortSignal,
    abortError: () => LlmProviderError | undefined,
    onChunk: () => void = () => undefined,
  ): Promise<boolean> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortError() ?? callerAborted('stream aborted by the caller'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      let step = upstream.first;
      while (!step.done) {
        if (!isWellFormedChunk(step.value)) throw malformedResponse();
        broadcast.push(step.value);
        onChunk();
        step = await Promise.race([upstream.iterator.next(), aborted]);
      }
      if (signal.aborted) throw abortError() ?? callerAborted('stream aborted by the caller');
      return true;
    } catch (err) {
      broadcast.end(this.accounting.failed(abortError() ?? err, plan));
      // Not awaited: a provider that ignores the abort must not keep the leader (and its followers) waiting.
      void upstream.iterator.return?.().catch(() => undefined);
      return false;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }
}
