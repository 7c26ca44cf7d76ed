import { createHash } from 'node:crypto';
import {
  Injectable,
  Logger,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { defer, lastValueFrom, type Observable } from 'rxjs';
import { parseCacheControlHeader } from './cache-control.js';
import { cacheStatusHeaders, type CacheOutcomeStatus } from './cache-status.js';
import { setResponseHeaders, type HttpResponseLike } from './http-response.js';
import { RedisCacheService } from './redis-cache.service.js';

/** Route metadata written by `@CacheResponse()`. */
export const CACHE_RESPONSE_OPTIONS = Symbol.for('llm-cache:redis-cache:cache-response-options');

/** Nest's `@Sse()` marker (SSE_METADATA in @nestjs/common/constants): an event stream is never cached. */
const SSE_METADATA = '__sse__';

export interface CacheResponseOptions {
  /** TTL of entries written by this route (defaults to the module's `defaultTtlMs`). */
  ttlMs?: number;
  /** HTTP methods this route caches (default GET and HEAD). A method with a body adds the body to the key. */
  methods?: string[];
}

/** What is stored under a key: the entry plus what `Age` and `Cache-Status: ttl` are computed from. */
export interface StoredResponse {
  storedAt: number;
  ttlMs: number;
  entry: unknown;
}

export type ResponseCacheStatus = CacheOutcomeStatus;

export interface ResponseCacheOutcome {
  status: ResponseCacheStatus;
  /** Age of the answer (hit and collapsed). */
  ageMs?: number;
  /** Time the entry has left to live (hit). */
  ttlMs?: number;
  stored?: boolean;
}

export const DEFAULT_CACHED_METHODS: readonly string[] = ['GET', 'HEAD'];

/** Bumped when the key parts or the stored layout change, so old entries are never misread. */
const KEY_SCHEMA = 'v1';

interface HttpRequestLike {
  method?: string;
  url?: string;
  originalUrl?: string;
  headers?: Record<string, string | string[] | undefined>;
  body?: unknown;
  /** Set by an app's auth guard (the chatbot's ApiKeyGuard does); part of the default key when present. */
  tenant?: unknown;
}

/**
 * Generic, fail-open response cache (the nestjs/throttler model: extend through the `protected` hooks).
 * `shouldSkip` → `getCacheKeyParts` (hashed to `<prefix>:resp:<sha256>`) → one GET; a hit answers with
 * `fromEntry(entry)`, a miss calls the handler once per key in this process (identical concurrent misses wait for
 * that call) and stores `toEntry(result)` for `getTtlMs`. Errors are never stored; Redis being down only costs the
 * bounded, breaker-guarded calls of `RedisCacheService`.
 *
 * The default key is method + path + sorted query, plus `request.tenant` when an auth guard set one — so two
 * tenants never share an entry by default. Within a tenant the answer must be the same for every caller: extend
 * `getCacheKeyParts` with the caller's identity on routes whose answer depends on the user.
 */
@Injectable()
export class RedisCacheInterceptor implements NestInterceptor {
  /** Name of the cache in `Cache-Status` (RFC 9211). */
  protected readonly cacheName: string = 'redis-cache';
  /** Key namespace under the module prefix; apart from CACHE_MANAGER's Keyv `http:` and the LLM cache's `llm:`. */
  protected readonly namespace: string = 'resp';
  protected readonly logger = new Logger('RedisCacheInterceptor');
  /** Misses being computed in this process, by key: followers wait for the leader instead of calling again. */
  private readonly inflight = new Map<string, Promise<StoredResponse | undefined>>();

  constructor(
    protected readonly cache: RedisCacheService,
    protected readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.shouldSkip(context)) return next.handle();
    let key: string;
    try {
      key = this.getCacheKey(context);
    } catch (err) {
      // A request we cannot key is served uncached rather than failed.
      this.logger.debug?.(`not caching: ${(err as Error).message}`);
      return next.handle();
    }
    const { noStore, noCache } = this.getRequestDirectives(context);
    if (noStore) {
      return defer(async () => {
        const result: unknown = await lastValueFrom(next.handle(), { defaultValue: undefined });
        this.onOutcome(context, { status: 'bypass' });
        return result;
      });
    }
    return defer(() => this.serve(context, next, key, noCache));
  }

  /** Default: anything but HTTP, SSE routes, and methods the route did not opt into (GET and HEAD by default). */
  protected shouldSkip(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    if (this.reflector.get(SSE_METADATA, context.getHandler())) return true;
    const method = (this.getRequest(context).method ?? '').toUpperCase();
    const methods = this.getRouteOptions(context).methods ?? DEFAULT_CACHED_METHODS;
    return !methods.some((m) => m.toUpperCase() === method);
  }

  /**
   * What identifies an answer. Default: method (HEAD counts as GET, Express answers it with the GET handler),
   * path, query sorted by name then value, for methods with a body its canonical JSON, and the tenant.
   */
  protected getCacheKeyParts(context: ExecutionContext): unknown[] {
    const req = this.getRequest(context);
    const parts: unknown[] = requestKeyParts(req.method ?? 'GET', req.originalUrl ?? req.url ?? '/');
    if (!['GET', 'HEAD'].includes(parts[0] as string)) parts.push(canonicalJson(req.body ?? null));
    // Tenant isolation by default, as in the LLM cache: an answer cached for one tenant is never served to another.
    parts.push({ tenant: typeof req.tenant === 'string' ? req.tenant : null });
    return parts;
  }

  /** TTL of a stored answer: the route's `ttlMs`, else the module's `defaultTtlMs`. */
  protected getTtlMs(context: ExecutionContext): number {
    return this.getRouteOptions(context).ttlMs ?? this.cache.options.defaultTtlMs;
  }

  /** The value to store for a handler result; undefined stores nothing. Default: a JSON-able body. */
  protected toEntry(result: unknown, _context: ExecutionContext): unknown {
    return isJsonBody(result) ? result : undefined;
  }

  /** The handler result to answer with for a stored entry. */
  protected fromEntry(entry: unknown, _context: ExecutionContext): unknown {
    return entry;
  }

  /**
   * `Cache-Control: no-store` bypasses the cache; `no-cache` skips the lookup but stores the fresh answer. Only
   * these flags are honoured here, so a malformed value of another directive is ignored rather than failing a
   * cacheable request.
   */
  protected getRequestDirectives(context: ExecutionContext): { noStore: boolean; noCache: boolean } {
    const { noStore, noCache } = parseCacheControlHeader(
      this.getRequest(context).headers?.['cache-control'],
      'ignore',
    );
    return { noStore: !!noStore, noCache: !!noCache };
  }

  /** Called with what the cache decided, before the body is sent. */
  protected onOutcome(context: ExecutionContext, outcome: ResponseCacheOutcome): void {
    setResponseHeaders(context.switchToHttp().getResponse<HttpResponseLike>(), this.headersFor(outcome));
  }

  protected headersFor(outcome: ResponseCacheOutcome): Record<string, string> {
    return cacheStatusHeaders(this.cacheName, outcome);
  }

  protected getCacheKey(context: ExecutionContext): string {
    return `${this.namespace}:${hashKeyParts([KEY_SCHEMA, ...this.getCacheKeyParts(context)])}`;
  }

  protected getRouteOptions(context: ExecutionContext): CacheResponseOptions {
    return (
      this.reflector.getAllAndOverride<CacheResponseOptions | undefined>(CACHE_RESPONSE_OPTIONS, [
        context.getHandler(),
        context.getClass(),
      ]) ?? {}
    );
  }

  private async serve(
    context: ExecutionContext,
    next: CallHandler,
    key: string,
    refresh: boolean,
  ): Promise<unknown> {
    if (!refresh) {
      // A miss already being computed here: no need to ask Redis.
      const early = this.inflight.get(key);
      if (early) return this.follow(context, next, key, early);
      const stored = await this.cache.get<StoredResponse>(key);
      if (isStoredResponse(stored)) {
        const ageMs = Math.max(0, Date.now() - stored.storedAt);
        this.onOutcome(context, { status: 'hit', ageMs, ttlMs: Math.max(0, stored.ttlMs - ageMs) });
        return this.fromEntry(stored.entry, context);
      }
      const leader = this.inflight.get(key);
      if (leader) return this.follow(context, next, key, leader);
    }
    return this.lead(context, next, key, refresh ? 'refresh' : 'miss');
  }

  private async follow(
    context: ExecutionContext,
    next: CallHandler,
    key: string,
    leader: Promise<StoredResponse | undefined>,
  ): Promise<unknown> {
    const shared = await leader;
    if (shared) {
      this.onOutcome(context, { status: 'collapsed', ageMs: Math.max(0, Date.now() - shared.storedAt) });
      return this.fromEntry(shared.entry, context);
    }
    // The leader failed or had nothing storable: an error is never someone else's answer, so ask ourselves.
    return this.compute(context, next, key, 'miss');
  }

  private async lead(
    context: ExecutionContext,
    next: CallHandler,
    key: string,
    status: 'miss' | 'refresh',
  ): Promise<unknown> {
    let settle!: (value: StoredResponse | undefined) => void;
    const shared = new Promise<StoredResponse | undefined>((resolve) => (settle = resolve));
    this.inflight.set(key, shared);
    try {
      return await this.compute(context, next, key, status, settle);
    } finally {
      settle(undefined);
      // Removed only once the entry is in Redis, so a request arriving in between finds one or the other.
      if (this.inflight.get(key) === shared) this.inflight.delete(key);
    }
  }

  private async compute(
    context: ExecutionContext,
    next: CallHandler,
    key: string,
    status: 'miss' | 'refresh',
    share?: (value: StoredResponse | undefined) => void,
  ): Promise<unknown> {
    const result: unknown = await lastValueFrom(next.handle(), { defaultValue: undefined });
    const entry = this.toEntry(result, context);
    let stored = false;
    if (entry !== undefined) {
      const ttlMs = this.getTtlMs(context);
      const value: StoredResponse = { storedAt: Date.now(), ttlMs, entry };
      share?.(value);
      try {
        stored = await this.cache.set(key, value, { ttlMs });
      } catch (err) {
        // An entry that cannot be encoded or a bad TTL: the answer still goes out, uncached.
        this.logger.warn(`not caching ${key}: ${(err as Error).message}`);
      }
    }
    this.onOutcome(context, { status, stored });
    return result;
  }

  private getRequest(context: ExecutionContext): HttpRequestLike {
    return context.switchToHttp().getRequest<HttpRequestLike>();
  }
}

/** `[method, path, sortedQuery]` of a request; HEAD is keyed as GET. */
export function requestKeyParts(method: string, url: string): string[] {
  const upper = method.toUpperCase();
  // Split by hand rather than `new URL()`: a path such as `//host/x` would otherwise lose its first segments.
  const mark = url.indexOf('?');
  const path = mark < 0 ? url : url.slice(0, mark);
  const query = [...new URLSearchParams(mark < 0 ? '' : url.slice(mark + 1))].sort(([a, x], [b, y]) =>
    a === b ? compare(x, y) : compare(a, b),
  );
  return [upper === 'HEAD' ? 'GET' : upper, path, new URLSearchParams(query).toString()];
}

/** SHA-256 (hex) of the key parts' canonical JSON. */
export function hashKeyParts(parts: unknown[]): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/** JSON with object keys sorted at every level, so equal values give equal keys whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => compare(a, b)))
      : v,
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Plain JSON values only: streams, files, buffers and undefined are answered but never stored. */
function isJsonBody(value: unknown): boolean {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return false;
  if (typeof value !== 'object' || value === null) return true;
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return false;
  if (typeof (value as { pipe?: unknown }).pipe === 'function') return false;
  if (typeof (value as { getStream?: unknown }).getStream === 'function') return false; // StreamableFile
  if (typeof (value as { subscribe?: unknown }).subscribe === 'function') return false;
  if (typeof (value as { then?: unknown }).then === 'function') return false;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function';
}

function isStoredResponse(value: unknown): value is StoredResponse {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as StoredResponse).storedAt === 'number' &&
    typeof (value as StoredResponse).ttlMs === 'number' &&
    'entry' in value
  );
}
