import type { ConnectionOptions } from 'node:tls';

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** How to reach Redis. Exactly one of `url`, `host`, `cluster`, `sentinel` is used; none → in-memory store. */
export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port/db` or `rediss://…` (TLS). */
  url?: string;
  host?: string;
  port?: number;
  db?: number;
  username?: string;
  password?: string;
  /** `true` for TLS with system CAs, or Node TLS options. */
  tls?: boolean | ConnectionOptions;
  /** Redis Cluster: the startup nodes (any reachable masters; the rest are discovered). */
  cluster?: { nodes: RedisNodeAddress[] };
  /** Redis Sentinel: the sentinels and the name of the monitored master. */
  sentinel?: { sentinels: RedisNodeAddress[]; name: string; sentinelPassword?: string };
}

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold?: number;
  /** How long the breaker stays open before one probe is let through. */
  resetTimeoutMs?: number;
}

export interface AdaptiveTimeoutOptions {
  /** The shortest deadline, in ms of event-loop idle time (default 5). */
  floorMs?: number;
  /** The deadline is at least this multiple of the recent p99 command latency (default 4). */
  p99Multiplier?: number;
}

export interface RedisCacheModuleOptions extends RedisConnectionOptions {
  /**
   * Use an in-process store instead of Redis (a first run without Redis; single process only). Implied when no
   * connection option is given.
   */
  inMemory?: boolean;
  /** Prefix of every key this module writes (`<prefix>:<key>`); `clear()` never leaves it. */
  keyPrefix?: string;
  /** TTL applied when a write names none. Every key gets a TTL. */
  defaultTtlMs?: number;
  /** Upper bound of one cache command; past it the call counts as failed and the caller gets a miss. */
  commandTimeoutMs?: number;
  /**
   * The deadline of a request-path command adapts to Redis' recent latency: `p99Multiplier` × the p99 of recent
   * successful commands and twice the longest wait Redis answered lately, at least `floorMs`, at most
   * `commandTimeoutMs` (which applies alone until enough samples are in, and to the breaker's probes). It bounds
   * the connection's silence in event-loop idle time: a command queued behind others that are being answered, or
   * waiting while this process is busy, is not timed out (up to `commandTimeoutMs`). After one command times out,
   * new request-path commands fail fast until a PING answers: a request pays the deadline at most once at the onset
   * of a hang. `false` keeps the fixed
   * `commandTimeoutMs` for every command. Default `{ floorMs: 5, p99Multiplier: 4 }`.
   */
  adaptiveTimeout?: AdaptiveTimeoutOptions | false;
  /** Upper bound of the TCP connect + handshake. */
  connectTimeoutMs?: number;
  breaker?: CircuitBreakerOptions;
  /** Hit/miss counters are batched in-process and flushed to a Redis hash this often (shared by replicas). */
  statsFlushIntervalMs?: number;
  /** JSON bodies larger than this are gzip-compressed. */
  compressThresholdBytes?: number;
  /** Entries larger than this (after compression) are not stored. */
  maxEntryBytes?: number;
  /** Extra name shown in `CLIENT LIST`. */
  connectionName?: string;
}

export interface ResolvedRedisCacheOptions extends Required<
  Pick<
    RedisCacheModuleOptions,
    | 'keyPrefix'
    | 'defaultTtlMs'
    | 'commandTimeoutMs'
    | 'connectTimeoutMs'
    | 'statsFlushIntervalMs'
    | 'compressThresholdBytes'
    | 'maxEntryBytes'
  >
> {
  connection: RedisConnectionOptions;
  mode: 'standalone' | 'cluster' | 'sentinel' | 'memory';
  breaker: Required<CircuitBreakerOptions>;
  adaptiveTimeout: Required<AdaptiveTimeoutOptions> | false;
  connectionName: string;
}

export interface CacheSetOptions {
  /** Time to live; defaults to the module's `defaultTtlMs`. */
  ttlMs?: number;
  /** Only write when the key does not exist (SET NX). */
  onlyIfAbsent?: boolean;
  /**
   * Write the command to the Redis connection before `set()` returns (synchronous encoding, no auto-pipelining
   * batch, which waits for the end of the tick and for an earlier batch's replies). For a write the caller does not
   * await but that must be on the wire before the caller answers someone (a conversation turn). One socket write of
   * its own. Still bounded, breaker-guarded and fail-open like every command.
   */
  dispatchNow?: boolean;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses); 0 when nothing was looked up. */
  hitRatio: number;
}

export interface RedisInfoSummary {
  mode: ResolvedRedisCacheOptions['mode'];
  connected: boolean;
  redisVersion?: string;
  connectedClients?: number;
  usedMemoryBytes?: number;
  usedMemoryHuman?: string;
  keyspaceHits?: number;
  keyspaceMisses?: number;
  uptimeSeconds?: number;
  evictedKeys?: number;
  keys?: number;
  /** One entry per master for a cluster; one for a standalone server. */
  nodes: Array<{ address: string; info: Record<string, string> }>;
}
