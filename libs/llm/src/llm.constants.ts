/** Namespaced injection tokens, so they never collide with an app's own providers. */
export const LLM_PROVIDER = Symbol.for('llm-cache:llm:provider');
export const LLM_CACHE_RESOLVED_OPTIONS = Symbol.for('llm-cache:llm:resolved-options');
export const LLM_CACHE_ROUTE_OPTIONS = 'llm-cache:llm:route-options';

/** Entries live under `<redisPrefix>:llm:…`; `clearLlmCache()` never leaves that space. */
export const LLM_KEY_NAMESPACE = 'llm';
/**
 * Locks live under `<redisPrefix>:llm-lock:…`, outside `llm:*`, so clearing the cache never deletes a live lock
 * (which would let a second leader start while the first is still calling the provider).
 */
export const LLM_LOCK_NAMESPACE = 'llm-lock';
/** Shared counters (hits, misses, tokens saved, …) in one Redis hash. */
export const LLM_STATS_HASH = 'llm-stats';
/** One tenant's own counters (`<prefix>:llm-stats:tenant:<tenant>`), so a tenant can be shown only its numbers. */
export function llmTenantStatsHash(tenant: string): string {
  return `${LLM_STATS_HASH}:tenant:${tenant}`;
}

/** Bump when the canonical form changes, so old entries are never read with a new meaning. */
export const DEFAULT_KEY_SCHEMA_VERSION = 2;
export const DEFAULT_LLM_TTL_MS = 60 * 60 * 1000;
/** A long LLM answer takes tens of seconds; a lock must outlive it or a second leader starts. */
export const DEFAULT_LOCK_TTL_MS = 60_000;
/** Followers wait this long for a leader's entry before calling the provider themselves. */
export const DEFAULT_WAIT_TIMEOUT_MS = 30_000;
export const DEFAULT_POLL_INTERVAL_MS = 25;
export const DEFAULT_MAX_MESSAGES = 256;
export const DEFAULT_TENANT = 'default';
