import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Observable } from 'rxjs';
import {
  cacheStatusHeaders,
  onClientDisconnect,
  setResponseHeaders,
  type HttpResponseLike,
} from '@llm-cache/redis-cache';
import { parseCacheControl, type CacheControl } from './cache-control.js';
import { DEFAULT_TENANT, LLM_CACHE_ROUTE_OPTIONS } from './llm.constants.js';
import {
  LlmRequestContext,
  type LlmCacheOutcome,
  type LlmRequestContextData,
} from './llm-request.context.js';
import { toLlmProviderError } from './llm-provider.error.js';
import type { ChatCompletionChunk } from './llm.types.js';

export interface CacheLlmResponseOptions {
  /** TTL of entries written by this route (defaults to the module's `ttlMs`). */
  ttlMs?: number;
}

/** What `parseCacheControl` returns without a header or a body field; frozen, as it is shared. */
const NO_CACHE_CONTROL: CacheControl = Object.freeze({});

interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  tenant?: unknown;
}

/**
 * Runs an LLM route inside an `LlmRequestContext` (tenant, cache controls, TTL, client-disconnect signal), turns the
 * recorded outcome into `X-Cache`, `Cache-Status` (RFC 9211) and `Age`, and writes an async iterable of chunks as
 * server-sent events. Extend through the `protected` hooks (the nestjs/throttler model).
 */
@Injectable()
export class LlmCacheInterceptor implements NestInterceptor {
  /** Name of the cache in `Cache-Status`. */
  protected readonly cacheName: string = 'llm-cache';

  private readonly routeOptions = new WeakMap<object, WeakMap<object, CacheLlmResponseOptions>>();

  constructor(protected readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const route = this.getRouteOptions(context);
    const control = this.getCacheControl(context);
    const res = context.switchToHttp().getResponse<HttpResponseLike>();
    let abort: AbortController | undefined;
    const llmContext: LlmRequestContextData = {
      tenant: this.getTenant(context),
      control,
      ttlMs: route.ttlMs,
      // Made on first use, i.e. when a call goes to the provider: a hit never reads it, and an AbortController plus a
      // 'close' listener per request were a measurable part of a hit's CPU. A client that already left by then
      // aborts it at once (onClientDisconnect checks the response's state when registering).
      get signal(): AbortSignal {
        if (!abort) {
          const controller = (abort = new AbortController());
          // The client went away before the answer was complete: stop paying for it (and never store a partial stream).
          onClientDisconnect(res, () => controller.abort());
        }
        return abort.signal;
      },
      requestId: this.getRequestId(context),
    };
    // One Observable around the handler's, no operator chain: the context must be entered when Nest subscribes
    // (that is when the handler runs), and the result mapped before it is written.
    return new Observable((subscriber) =>
      LlmRequestContext.run(llmContext, () =>
        next.handle().subscribe({
          next: (result) => subscriber.next(this.onResult(context, llmContext, result)),
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      ),
    );
  }

  /**
   * `@CacheLlmResponse()` options of the controller class, overridden field by field by the method's own. Metadata
   * does not change after start-up: resolved once per (class, handler), not per request.
   */
  protected getRouteOptions(context: ExecutionContext): CacheLlmResponseOptions {
    const cls = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.routeOptions.get(cls);
    if (!byHandler) this.routeOptions.set(cls, (byHandler = new WeakMap()));
    let options = byHandler.get(handler);
    if (!options) {
      const [onClass, onMethod] = this.reflector.getAll<(CacheLlmResponseOptions | undefined)[]>(
        LLM_CACHE_ROUTE_OPTIONS,
        [cls, handler],
      );
      const overrides = Object.entries(onMethod ?? {}).filter(([, value]) => value !== undefined);
      options = Object.freeze({ ...onClass, ...Object.fromEntries(overrides) });
      byHandler.set(handler, options);
    }
    return options;
  }

  /**
   * The request's id for log lines about it (an upstream failure): `request.requestId` as set by the app's request-id
   * middleware, else undefined. Override to read it from elsewhere.
   */
  protected getRequestId(context: ExecutionContext): string | undefined {
    const id = context.switchToHttp().getRequest<HttpRequestLike & { requestId?: unknown }>().requestId;
    return typeof id === 'string' && id.length > 0 ? id : undefined;
  }

  /** The tenant: `request.tenant` as set by the app's auth guard (server-side identity), else `default`. */
  protected getTenant(context: ExecutionContext): string {
    const tenant = context.switchToHttp().getRequest<HttpRequestLike>().tenant;
    return typeof tenant === 'string' && tenant.length > 0 ? tenant : DEFAULT_TENANT;
  }

  /**
   * `Cache-Control` header merged with the body's `cache` field, which is removed from the body so it reaches
   * neither the upstream nor the cache key. Throws `LlmCacheControlError` (400) on a bad directive.
   */
  protected getCacheControl(context: ExecutionContext): CacheControl {
    const req = context.switchToHttp().getRequest<HttpRequestLike>();
    const header = req.headers?.['cache-control'];
    const body = req.body as Record<string, unknown> | undefined;
    const fromBody = body && typeof body === 'object' ? body.cache : undefined;
    if (body && typeof body === 'object' && 'cache' in body) delete body.cache;
    // Most requests carry neither: one shared empty control instead of a parse and two objects per request.
    if (header === undefined && fromBody === undefined) return NO_CACHE_CONTROL;
    return parseCacheControl(Array.isArray(header) ? header.join(', ') : header, fromBody);
  }

  /** Called with what the cache decided, before any byte of the body is sent. */
  protected onOutcome(context: ExecutionContext, outcome: LlmCacheOutcome): void {
    setResponseHeaders(context.switchToHttp().getResponse<HttpResponseLike>(), this.headersFor(outcome));
  }

  protected headersFor(outcome: LlmCacheOutcome): Record<string, string> {
    const status = outcome.status === 'coalesced' ? 'collapsed' : outcome.status;
    return cacheStatusHeaders(this.cacheName, { ...outcome, status });
  }

  private onResult(context: ExecutionContext, llmContext: LlmRequestContextData, result: unknown): unknown {
    if (llmContext.outcome) this.onOutcome(context, llmContext.outcome);
    const stream = asChunkStream(result);
    if (!stream) return result;
    const res = context.switchToHttp().getResponse<HttpResponseLike>();
    setResponseHeaders(res, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
    return toServerSentEvents(stream);
  }
}

/** `data: <json>` per chunk and `data: [DONE]`; an error after the first byte becomes an `error` event. */
export async function* toServerSentEvents(
  stream: AsyncIterable<ChatCompletionChunk>,
): AsyncGenerator<string> {
  let sent = false;
  try {
    for await (const chunk of stream) {
      sent = true;
      yield `data: ${JSON.stringify(chunk)}\n\n`;
    }
  } catch (err) {
    // Before the first byte the status line can still say what went wrong: let the exception filter answer.
    if (!sent) throw err;
    yield `data: ${JSON.stringify(toLlmProviderError(err).toJSON())}\n\n`;
    return;
  }
  yield 'data: [DONE]\n\n';
}

function asChunkStream(result: unknown): AsyncIterable<ChatCompletionChunk> | undefined {
  if (isAsyncIterable(result)) return result as AsyncIterable<ChatCompletionChunk>;
  // An `LlmStreamResult` returned as is.
  if (
    result &&
    typeof result === 'object' &&
    'stream' in result &&
    isAsyncIterable((result as { stream: unknown }).stream)
  ) {
    return (result as { stream: AsyncIterable<ChatCompletionChunk> }).stream;
  }
  return undefined;
}

function isAsyncIterable(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function' &&
    typeof (value as { then?: unknown }).then !== 'function'
  );
}
