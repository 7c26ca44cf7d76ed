import type { ModuleMetadata, Provider } from '@nestjs/common';
import type { CacheControl } from './cache-control.js';
import type { CacheKeyFn } from './cache-key.policy.js';
import type { DeterminismPolicy } from './determinism.policy.js';
import type { LlmProvider } from './llm-provider.interface.js';
import type { ChatCompletion, ChatCompletionChunk } from './llm.types.js';
import type { ModelPrice } from './pricing.js';

export interface CoalescingOptions {
  /** One provider call per key at a time, in-process and across processes (default true). */
  enabled?: boolean;
  /**
   * Expiry of the cross-process leader lock. A working leader extends it every third of this, so it is not a
   * bound on a generation's length: it is how long a leader may stay silent (before its first chunk, between two
   * chunks) and how long a crashed leader's lock blocks others.
   */
  lockTtlMs?: number;
  /** How long a follower waits for the leader's entry before calling the provider itself. */
  waitTimeoutMs?: number;
  /** How often a cross-process follower checks whether the leader is done. */
  pollIntervalMs?: number;
}

export interface LlmCacheModuleOptions {
  /** The default provider (also provided as `LLM_PROVIDER`); a call may pass another. */
  provider?: LlmProvider;
  /** Entry lifetime (default 1 h). */
  ttlMs?: number;
  determinism?: DeterminismPolicy;
  /** Let tenants share entries (off by default: one tenant never sees another's answers). */
  shareAcrossTenants?: boolean;
  /** Put the request's `user` field into the key (off by default: it is abuse tracking, not output-affecting). */
  includeUserField?: boolean;
  cacheKeyFn?: CacheKeyFn;
  keySchemaVersion?: number;
  /** USD per million tokens by model, merged over the built-in list prices. */
  pricing?: Record<string, ModelPrice>;
  coalescing?: CoalescingOptions;
  /** Store answers cut off by max_tokens (`finish_reason: "length"`); off by default. */
  storeLengthFinish?: boolean;
  /** Upper bound of `messages.length` accepted by the request validator (default 256). */
  maxMessages?: number;
  /** Deepest nesting of objects and arrays the request validator accepts anywhere in a body (default 64). */
  maxRequestDepth?: number;
}

export interface ResolvedLlmCacheOptions {
  ttlMs: number;
  determinism: DeterminismPolicy;
  shareAcrossTenants: boolean;
  includeUserField: boolean;
  cacheKeyFn?: CacheKeyFn;
  keySchemaVersion: number;
  pricing: Record<string, ModelPrice>;
  coalescing: Required<CoalescingOptions>;
  storeLengthFinish: boolean;
  maxMessages: number;
  maxRequestDepth: number;
}

export interface LlmCacheModuleExtras {
  isGlobal?: boolean;
  /** Modules to import, e.g. a non-global `RedisCacheModule`. */
  imports?: ModuleMetadata['imports'];
  /**
   * Providers added after the module's own, so one with the same token replaces it: the roles `LlmCacheService` is
   * built from (`RequestCoalescer`, `LlmCallCoordinator`, `LlmStreamLeader`, `LlmUpstream`, `LlmCacheEntries`,
   * `LlmCacheAccounting`, `CacheKeyPolicy`, `PriceTable`), e.g. `{ provide: RequestCoalescer, useClass: MyCoalescer }`.
   */
  providers?: Provider[];
}

export interface GenerateOptions {
  tenant?: string;
  useCache?: boolean;
  cacheTtlMs?: number;
  defaultMaxTokens?: number;
  defaultTemperature?: number;
  control?: CacheControl;
  signal?: AbortSignal;
  /**
   * The value the caller already read from the call's key (`cacheKeyFor`), e.g. in one round trip with its own
   * data: used as the lookup's GET when `key` is the call's key (then validated, aged, counted and served exactly
   * like a value read by the lookup), ignored otherwise.
   */
  prefetched?: PrefetchedEntry;
  /**
   * Answer a miss only once Redis has replied to its store, so `stored` says whether the entry was written. Off by
   * default: the answer is returned as soon as the store is sent (one round trip less), and `storedPromise` tells
   * the outcome. Either way this process's next lookup of the key is answered after the store.
   */
  awaitStore?: boolean;
}

/** A value read from a cache key by the caller (undefined: the key held nothing, or the read failed). */
export interface PrefetchedEntry {
  key: string;
  value: unknown;
}

export type LlmCacheStatus = 'hit' | 'miss' | 'refresh' | 'bypass' | 'coalesced';

export interface LlmCacheResult {
  response: ChatCompletion;
  /** True when the answer did not come from a provider call made for this request. */
  cached: boolean;
  status: LlmCacheStatus;
  ageMs?: number;
  key?: string;
  /**
   * Whether the answer is being stored: true once it was sent to Redis to be written (a storable miss or refresh,
   * with Redis available). With `awaitStore`, whether Redis wrote it. False on a hit, a bypass, a coalesced answer.
   */
  stored: boolean;
  /** Resolves once the store is over: whether the answer was written (false when none was sent). Never rejects. */
  storedPromise: Promise<boolean>;
}

export interface LlmStreamResult {
  stream: AsyncIterable<ChatCompletionChunk>;
  cached: boolean;
  status: LlmCacheStatus;
  ageMs?: number;
  key?: string;
  /** Resolves once the stream is over: whether it was stored. */
  storedPromise: Promise<boolean>;
}

export interface LlmCacheStats {
  hits: number;
  misses: number;
  bypasses: number;
  coalesced: number;
  errors: number;
  /** (hits + coalesced) / (hits + coalesced + misses); 0 before any lookup. */
  cacheHitRatio: number;
  tokensSaved: number;
  costSavedUsd: number;
  latencySavedMs: number;
}
