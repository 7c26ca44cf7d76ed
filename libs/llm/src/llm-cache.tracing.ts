import { createRequire } from 'node:module';
import { Injectable } from '@nestjs/common';
import {
  DURATION_BUCKETS_S,
  loadMetricService,
  type MetricAttributes,
  type MetricRecorder,
} from '@llm-cache/redis-cache';
import type * as OtelApi from '@opentelemetry/api';
import type { LlmCacheStatus } from './llm-cache.interfaces.js';
import type { LlmCallPlan } from './llm-call.plan.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from './llm.types.js';

type Api = typeof OtelApi;
type Span = OtelApi.Span;
type SpanContext = OtelApi.SpanContext;

/** `llm_cache.result` of the cache decision span; `error` when the call failed. */
export type LlmCacheTraceResult = 'hit' | 'miss' | 'bypass' | 'coalesced' | 'stale' | 'error';

/** Semantic-convention advice for token counts (powers of 4 up to 64 Mi tokens). */
const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/** How long a leader's span context stays findable for followers that coalesce on it. */
const LEADER_LINK_TTL_MS = 60_000;
const MAX_LEADERS = 10_000;

/**
 * Traces and GenAI metrics of cached LLM calls, through the global OpenTelemetry API (an optional peer: without
 * `@opentelemetry/api` installed, or without an SDK registered, every method is a cheap no-op).
 *
 * - `llm_cache.request`: one span per call, the cache decision, with `llm_cache.result` (hit | miss | bypass |
 *   coalesced | stale | error), `llm_cache.key_digest` (a prefix, never the prompt), `llm_cache.tenant` and
 *   `llm_cache.age_s` on served entries. A coalesced follower links to its leader's upstream span.
 * - `chat {model}` (CLIENT): the upstream call, per the OpenTelemetry GenAI semantic conventions. A hit has none.
 * - Metrics `gen_ai.client.operation.duration`, `gen_ai.client.token.usage` and, for streams,
 *   `gen_ai.client.operation.time_to_first_chunk`.
 *
 * A provider of `LlmCacheModule`: replace it through the module's `providers` extra (e.g. a subclass that sets
 * `captureContent` from your own configuration).
 */
@Injectable()
export class LlmCacheTracing {
  // Private, so the published .d.ts never names @opentelemetry/api (an optional peer a user may not have).
  private readonly api?: Api;
  /**
   * Put prompts and completions on the upstream span (`gen_ai.input.messages`, `gen_ai.output.messages`). Off by
   * default: traces often go to places prompts must not. On with the GenAI convention's variable
   * `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
   */
  protected readonly captureContent: boolean =
    process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.trim().toLowerCase() === 'true';
  protected readonly operationDuration: MetricRecorder;
  protected readonly tokenUsage: MetricRecorder;
  protected readonly timeToFirstChunk: MetricRecorder;
  /** key → the upstream span of the in-process leader working on it, for the followers' links. */
  private readonly leaders = new Map<string, { context: SpanContext; untilMs: number }>();

  /** The API's no-op provider (what a fresh ProxyTracerProvider delegates to), to tell "no SDK" apart cheaply. */
  private readonly noopTracerProvider?: unknown;
  private cachedTracer?: OtelApi.Tracer;

  constructor() {
    this.api = loadOtelApi();
    this.noopTracerProvider = this.api ? new this.api.ProxyTracerProvider().getDelegate() : undefined;
    const metrics = loadMetricService();
    this.operationDuration = metrics.getHistogram('gen_ai.client.operation.duration', {
      description: 'GenAI operation duration (upstream calls; cache hits make none)',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_S] },
    });
    this.tokenUsage = metrics.getHistogram('gen_ai.client.token.usage', {
      description: 'Input and output tokens used per upstream call',
      unit: '{token}',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
    this.timeToFirstChunk = metrics.getHistogram('gen_ai.client.operation.time_to_first_chunk', {
      description: 'Time from the upstream request to its first streamed chunk',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_S] },
    });
  }

  /**
   * Runs `fn` inside the call's `llm_cache.request` span (so Redis commands and the upstream span are its
   * children) and ends the span with the outcome `fn` resolves to.
   */
  async traceCall<R extends { status: LlmCacheStatus; ageMs?: number }>(
    plan: LlmCallPlan,
    fn: () => Promise<R>,
  ): Promise<R> {
    const api = this.api;
    if (!api || !this.tracerRegistered(api)) return fn();
    const span = this.tracer(api).startSpan('llm_cache.request', {
      kind: api.SpanKind.INTERNAL,
      attributes: {
        'llm_cache.tenant': plan.tenant,
        'gen_ai.request.model': plan.request.model,
        ...(plan.key ? { 'llm_cache.key_digest': keyDigestPrefix(plan.key) } : {}),
      },
    });
    // No SDK, or sampled out: no context switch on the hot path.
    if (!span.isRecording()) return fn();
    try {
      const result = await api.context.with(api.trace.setSpan(api.context.active(), span), fn);
      const traceResult = traceResultOf(result.status, plan);
      span.setAttribute('llm_cache.result', traceResult);
      if (result.ageMs !== undefined) span.setAttribute('llm_cache.age_s', Math.round(result.ageMs / 1000));
      if (result.status === 'coalesced' && plan.key) {
        const leader = this.leaders.get(plan.key);
        if (leader) span.addLink({ context: leader.context });
      }
      return result;
    } catch (err) {
      span.setAttribute('llm_cache.result', 'error');
      markError(api, span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * Whether an SDK registered a tracer provider. Without one every span is a no-op, so a call skips even building
   * the span's attributes (a measurable part of a cache hit's CPU). Checked per call: an SDK may start later.
   */
  private tracerRegistered(api: Api): boolean {
    const provider = api.trace.getTracerProvider() as Partial<OtelApi.ProxyTracerProvider>;
    return typeof provider.getDelegate !== 'function' || provider.getDelegate() !== this.noopTracerProvider;
  }

  /** One tracer: `getTracer` makes a new proxy object per call until an SDK is registered. */
  private tracer(api: Api): OtelApi.Tracer {
    return (this.cachedTracer ??= api.trace.getTracer('@llm-cache/llm'));
  }

  /** The upstream call of a non-streamed completion, as a GenAI CLIENT span plus the GenAI metrics. */
  async traceCompletion(
    plan: LlmCallPlan,
    request: ChatCompletionRequest,
    call: () => Promise<ChatCompletion>,
  ): Promise<ChatCompletion> {
    const t0 = performance.now();
    const span = this.startUpstreamSpan(plan, request);
    let response: ChatCompletion;
    try {
      response = await call();
    } catch (err) {
      this.failUpstream(plan, span, t0, err);
      throw err;
    }
    // Telemetry never changes an answer: a malformed one (judged by the caller) must not fail here.
    observe(() =>
      this.endUpstream(plan, span, t0, response?.model, response?.usage, response?.choices, response?.id),
    );
    return response;
  }

  /**
   * Wraps an upstream stream's iterator: the span starts now and ends when the stream is read to its end, fails or
   * is abandoned (`return()`); the first chunk records the time to first chunk.
   */
  traceStream(
    plan: LlmCallPlan,
    request: ChatCompletionRequest,
    open: () => AsyncIterator<ChatCompletionChunk>,
  ): AsyncIterator<ChatCompletionChunk> {
    const t0 = performance.now();
    const span = this.startUpstreamSpan(plan, request);
    let iterator: AsyncIterator<ChatCompletionChunk>;
    try {
      iterator = open();
    } catch (err) {
      this.failUpstream(plan, span, t0, err);
      throw err;
    }
    let first = true;
    let ended = false;
    let model: string | undefined;
    let id: string | undefined;
    let usage: ChatCompletion['usage'];
    const finishReasons: Array<string | null> = [];
    const end = (err?: unknown) => {
      if (ended) return;
      ended = true;
      if (err === undefined)
        this.endUpstream(
          plan,
          span,
          t0,
          model,
          usage,
          finishReasons.map((finish_reason) => ({ finish_reason })),
          id,
        );
      else this.failUpstream(plan, span, t0, err);
    };
    return {
      next: async () => {
        let step: IteratorResult<ChatCompletionChunk>;
        try {
          step = await iterator.next();
        } catch (err) {
          end(err);
          throw err;
        }
        // Telemetry never changes an answer: a chunk it cannot read is the caller's to judge.
        observe(() => {
          if (first) {
            first = false;
            this.timeToFirstChunk.record((performance.now() - t0) / 1000, this.metricAttributes(plan, model));
          }
          if (step.done) return end();
          const chunk = step.value;
          model ??= typeof chunk.model === 'string' ? chunk.model : undefined;
          id ??= typeof chunk.id === 'string' ? chunk.id : undefined;
          if (chunk.usage) usage = chunk.usage;
          for (const choice of Array.isArray(chunk.choices) ? chunk.choices : []) {
            if (choice.finish_reason) finishReasons[choice.index ?? 0] = choice.finish_reason;
          }
        });
        return step;
      },
      return: async (value?: unknown) => {
        // Abandoned before its end (client gone, cap reached): an error for the span, not for the caller.
        end(new StreamAbandoned());
        return (await iterator.return?.(value)) ?? { done: true, value: undefined };
      },
    };
  }

  private startUpstreamSpan(plan: LlmCallPlan, request: ChatCompletionRequest): Span | undefined {
    const api = this.api;
    if (!api) return undefined;
    const attributes: OtelApi.Attributes = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': plan.provider.name,
      'gen_ai.request.model': request.model,
    };
    const r = request as unknown as Record<string, unknown>;
    const numeric: Array<[string, unknown]> = [
      ['gen_ai.request.temperature', r.temperature],
      ['gen_ai.request.top_p', r.top_p],
      ['gen_ai.request.max_tokens', r.max_completion_tokens ?? r.max_tokens],
      ['gen_ai.request.seed', r.seed],
      ['gen_ai.request.choice.count', r.n],
    ];
    for (const [name, value] of numeric) if (typeof value === 'number') attributes[name] = value;
    if (this.captureContent) attributes['gen_ai.input.messages'] = JSON.stringify(request.messages);
    const span = this.tracer(api).startSpan(`chat ${request.model}`, {
      kind: api.SpanKind.CLIENT,
      attributes,
    });
    if (plan.key) this.rememberLeader(plan.key, span.spanContext());
    return span;
  }

  private endUpstream(
    plan: LlmCallPlan,
    span: Span | undefined,
    t0: number,
    model: string | undefined,
    usage: ChatCompletion['usage'],
    choices: ReadonlyArray<{ finish_reason?: string | null; message?: unknown }> | undefined,
    id: string | undefined,
  ): void {
    if (!Array.isArray(choices)) choices = [];
    const attributes = this.metricAttributes(plan, model);
    this.operationDuration.record((performance.now() - t0) / 1000, attributes);
    if (typeof usage?.prompt_tokens === 'number' && typeof usage.completion_tokens === 'number') {
      this.tokenUsage.record(usage.prompt_tokens, { ...attributes, 'gen_ai.token.type': 'input' });
      this.tokenUsage.record(usage.completion_tokens, { ...attributes, 'gen_ai.token.type': 'output' });
    }
    if (!span) return;
    if (model) span.setAttribute('gen_ai.response.model', model);
    if (id) span.setAttribute('gen_ai.response.id', id);
    const reasons = choices.map((c) => c.finish_reason ?? '').filter(Boolean);
    if (reasons.length) span.setAttribute('gen_ai.response.finish_reasons', reasons);
    if (typeof usage?.prompt_tokens === 'number' && typeof usage.completion_tokens === 'number') {
      span.setAttribute('gen_ai.usage.input_tokens', usage.prompt_tokens);
      span.setAttribute('gen_ai.usage.output_tokens', usage.completion_tokens);
    }
    if (this.captureContent && choices.some((c) => c.message !== undefined))
      span.setAttribute('gen_ai.output.messages', JSON.stringify(choices.map((c) => c.message)));
    span.end();
  }

  private failUpstream(plan: LlmCallPlan, span: Span | undefined, t0: number, err: unknown): void {
    const errorType = errorTypeOf(err);
    this.operationDuration.record((performance.now() - t0) / 1000, {
      ...this.metricAttributes(plan, undefined),
      'error.type': errorType,
    });
    if (!span || !this.api) return;
    markError(this.api, span, err);
    span.end();
  }

  protected metricAttributes(plan: LlmCallPlan, responseModel: string | undefined): MetricAttributes {
    return {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': plan.provider.name,
      'gen_ai.request.model': plan.request.model,
      ...(responseModel ? { 'gen_ai.response.model': responseModel } : {}),
    };
  }

  private rememberLeader(key: string, context: SpanContext): void {
    const now = Date.now();
    if (this.leaders.size >= MAX_LEADERS) {
      for (const [k, v] of this.leaders) if (v.untilMs <= now) this.leaders.delete(k);
      // Still full: the oldest goes (Map iterates in insertion order).
      if (this.leaders.size >= MAX_LEADERS) this.leaders.delete(this.leaders.keys().next().value!);
    }
    this.leaders.delete(key);
    this.leaders.set(key, { context, untilMs: now + LEADER_LINK_TTL_MS });
  }
}

/** Runs a telemetry step; its failure is never the call's (it is dropped: the answer matters, not its span). */
function observe(step: () => void): void {
  try {
    step();
  } catch {
    /* a malformed answer the caller rejects on its own; nothing to record */
  }
}

class StreamAbandoned extends Error {
  readonly code = 'stream_abandoned';
  constructor() {
    super('the stream was closed before its end');
  }
}

/** The digest part of `<prefix>:llm:v<n>:<tenant>:{<sha256>}`, shortened: enough to correlate, never content. */
function keyDigestPrefix(key: string): string {
  const digest = key.slice(key.lastIndexOf(':') + 1);
  return (digest.startsWith('{') ? digest.slice(1) : digest).slice(0, 16);
}

/** `stale`: a miss because the entry found was older than the caller's `max-age` (it was fetched again). */
function traceResultOf(status: LlmCacheStatus, plan: LlmCallPlan): LlmCacheTraceResult {
  if (status === 'refresh') return 'miss';
  if (status === 'miss' && plan.staleEntryAgeMs !== undefined) return 'stale';
  return status;
}

/** `error.type` per the conventions: the provider error's code, else its HTTP status, else the class name. */
function errorTypeOf(err: unknown): string {
  const e = err as { code?: unknown; status?: unknown; name?: unknown } | undefined;
  if (typeof e?.code === 'string' && e.code) return e.code;
  if (typeof e?.status === 'number') return String(e.status);
  return typeof e?.name === 'string' && e.name ? e.name : '_OTHER';
}

function markError(api: Api, span: Span, err: unknown): void {
  span.setAttribute('error.type', errorTypeOf(err));
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: (err as Error)?.message });
}

let cachedApi: Api | null | undefined;

/** `@opentelemetry/api` when installed (an optional peer), else undefined: tracing is then off. */
function loadOtelApi(): Api | undefined {
  if (cachedApi === undefined) {
    try {
      cachedApi = createRequire(import.meta.url)('@opentelemetry/api') as Api;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
      cachedApi = null;
    }
  }
  return cachedApi ?? undefined;
}
