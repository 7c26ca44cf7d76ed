import { Inject, Injectable } from '@nestjs/common';
import { LlmCacheAccounting } from './llm-cache.accounting.js';
import { LlmCacheTracing } from './llm-cache.tracing.js';
import type { LlmCallPlan } from './llm-call.plan.js';
import { LlmProviderError } from './llm-provider.error.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from './llm.types.js';
import { chunkForClient, isWellFormedChunk, isWellFormedCompletion } from './stream.codec.js';

/** An opened upstream stream whose first chunk has been read (so errors before the first byte have surfaced). */
export interface UpstreamStream {
  iterator: AsyncIterator<ChatCompletionChunk>;
  first: IteratorResult<ChatCompletionChunk>;
}

/** The upstream call's own abort, detached from the caller's while followers wait for it (see `abortFor`). */
export interface UpstreamAbort {
  signal: AbortSignal;
  abort(): void;
  dispose(): void;
}

/**
 * Calls to the plan's provider: every failure comes back as a counted `LlmProviderError`, and a malformed 200 as a
 * 502, so nothing unreadable reaches the caller or the cache.
 */
@Injectable()
export class LlmUpstream {
  constructor(
    @Inject(LlmCacheAccounting) protected readonly accounting: LlmCacheAccounting,
    @Inject(LlmCacheTracing) protected readonly tracing: LlmCacheTracing,
  ) {}

  async complete(plan: LlmCallPlan, signal = plan.signal): Promise<ChatCompletion> {
    const { stream: _s, stream_options: _o, ...request } = plan.request;
    let response: ChatCompletion;
    try {
      response = await this.tracing.traceCompletion(plan, request as ChatCompletionRequest, () =>
        plan.provider.complete(request as ChatCompletionRequest, { signal }),
      );
    } catch (err) {
      throw this.accounting.failed(err, plan);
    }
    if (!isWellFormedCompletion(response)) throw this.accounting.failed(malformedResponse(), plan);
    return response;
  }

  /** Opens the upstream stream and reads its first chunk, so errors before the first byte reject here. */
  async openStream(
    plan: LlmCallPlan,
    request: ChatCompletionRequest,
    signal = plan.signal,
  ): Promise<UpstreamStream> {
    const iterator = this.tracing.traceStream(plan, request, () =>
      plan.provider.stream(request, { signal })[Symbol.asyncIterator](),
    );
    let first: IteratorResult<ChatCompletionChunk>;
    try {
      first = await iterator.next();
    } catch (err) {
      throw this.accounting.failed(err, plan);
    }
    if (!first.done && !isWellFormedChunk(first.value)) {
      void iterator.return?.().catch(() => undefined);
      throw this.accounting.failed(malformedResponse(), plan);
    }
    return { iterator, first };
  }

  /** Forwards an upstream stream to the caller as is (a bypass: nothing is captured or stored). */
  async *forward(
    upstream: UpstreamStream,
    includeUsage: boolean,
    plan: LlmCallPlan,
  ): AsyncGenerator<ChatCompletionChunk> {
    let clean = false;
    try {
      let step = upstream.first;
      while (!step.done) {
        if (!isWellFormedChunk(step.value)) throw this.accounting.failed(malformedResponse(), plan);
        const out = chunkForClient(step.value, includeUsage);
        if (out) yield out;
        try {
          step = await upstream.iterator.next();
        } catch (err) {
          throw this.accounting.failed(err, plan);
        }
      }
      clean = true;
    } finally {
      // A caller that stops reading early cancels the upstream request.
      if (!clean) await upstream.iterator.return?.().catch(() => undefined);
      this.accounting.streamEnded(plan);
    }
  }

  /**
   * The upstream call's own abort. The caller's abort cancels it only while no follower in this process waits for
   * its answer: a follower must not start over because the leader's client went away.
   */
  abortFor(plan: LlmCallPlan, followers: () => number): UpstreamAbort {
    const controller = new AbortController();
    const caller = plan.signal;
    const onAbort = () => {
      if (followers() === 0) controller.abort();
    };
    if (caller?.aborted) onAbort();
    else caller?.addEventListener('abort', onAbort, { once: true });
    return {
      signal: controller.signal,
      abort: () => controller.abort(),
      dispose: () => caller?.removeEventListener('abort', onAbort),
    };
  }
}

export function malformedResponse(): LlmProviderError {
  return new LlmProviderError('upstream returned a malformed response', {
    status: 502,
    type: 'upstream_error',
    code: 'malformed_response',
  });
}
