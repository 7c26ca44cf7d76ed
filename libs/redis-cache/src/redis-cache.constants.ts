/** Namespaced injection tokens, so they never collide with an app's own providers. */
export const REDIS_CACHE_CLIENT = Symbol.for('llm-cache:redis-cache:client');
export const REDIS_CACHE_BACKEND = Symbol.for('llm-cache:redis-cache:backend');
export const REDIS_CACHE_RESOLVED_OPTIONS = Symbol.for('llm-cache:redis-cache:resolved-options');

export const DEFAULT_KEY_PREFIX = 'llm-cache';
export const DEFAULT_TTL_MS = 60 * 60 * 1000;
/**
 * Redis on loopback answers in well under 1 ms; 50 ms is long enough for a loaded server and short enough that a
 * hung one costs a request almost nothing.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 50;
/**
 * Loopback Redis answers in well under 1 ms. The deadline is counted in event-loop idle time, so a busy process or
 * a GC pause does not use it up; what the floor absorbs is Redis itself not being scheduled for a few ms (longer
 * stalls it has shown lately raise the deadline through its recent peak). 5 ms keeps the onset of a hang cheap: a
 * request in flight pays about this much once.
 */
export const DEFAULT_ADAPTIVE_TIMEOUT_FLOOR_MS = 5;
export const DEFAULT_ADAPTIVE_TIMEOUT_P99_MULTIPLIER = 4;
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_BREAKER_FAILURE_THRESHOLD = 5;
export const DEFAULT_BREAKER_RESET_TIMEOUT_MS = 2000;
export const DEFAULT_STATS_FLUSH_INTERVAL_MS = 1000;
/** JSON bodies above this size are gzip-compressed before they are written. */
export const DEFAULT_COMPRESS_THRESHOLD_BYTES = 4 * 1024;
export const DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024;
