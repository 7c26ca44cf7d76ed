import { AsyncLocalStorage } from 'node:async_hooks';
import type { CacheControl } from './cache-control.js';

/** What the last `LlmCacheService` call in a request decided (the interceptor turns it into headers). */
export interface LlmCacheOutcome {
  status: 'hit' | 'miss' | 'refresh' | 'bypass' | 'coalesced';
  cached: boolean;
  ageMs?: number;
  key?: string;
  /** Remaining lifetime of the entry served or written, when known. */
  ttlMs?: number;
  /** Whether the answer was written; undefined while a stream is still running. */
  stored?: boolean;
}

export interface LlmRequestContextData {
  tenant?: string;
  control?: CacheControl;
  ttlMs?: number;
  signal?: AbortSignal;
  outcome?: LlmCacheOutcome;
  /** The request's id (X-Request-Id), named in the log lines about it (e.g. an upstream failure). */
  requestId?: string;
}

const storage = new AsyncLocalStorage<LlmRequestContextData>();

/**
 * Per-request context (tenant, cache controls, TTL, abort signal) that follows the request through async calls, so a
 * handler — or any service it calls — gets them in `LlmCacheService` without threading them through every signature.
 */
export const LlmRequestContext = {
  run<R>(context: LlmRequestContextData, fn: () => R): R {
    return storage.run(context, fn);
  },
  current(): LlmRequestContextData | undefined {
    return storage.getStore();
  },
};
