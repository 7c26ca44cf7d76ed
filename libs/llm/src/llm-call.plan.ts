import type { CacheControl } from './cache-control.js';
import type { LlmProvider } from './llm-provider.interface.js';
import type { ChatCompletionRequest } from './llm.types.js';
import type { LlmCacheEntry } from './stream.codec.js';

/** Everything one call needs, resolved from its arguments, the request context and the module options. */
export interface LlmCallPlan {
  request: ChatCompletionRequest;
  provider: LlmProvider;
  tenant: string;
  control: CacheControl;
  ttlMs: number;
  signal?: AbortSignal;
  /** Undefined when the call bypasses the cache. */
  key?: string;
  lockKey?: string;
  startMs: number;
  /** What the caller read from `key` already (`GenerateOptions.prefetched`); the first lookup uses it instead of a GET. */
  prefetched?: { value: unknown };
  /** Wait for Redis' reply to the store before answering (`GenerateOptions.awaitStore`). */
  awaitStore?: boolean;
  /** Set when an entry was found but was older than the caller's `max-age` (traces call that miss `stale`). */
  staleEntryAgeMs?: number;
}

/** A stored (or handed-over) entry and its age when it was found. */
export interface Found {
  entry: LlmCacheEntry;
  ageMs: number;
}
