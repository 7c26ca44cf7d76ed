import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ResolvedRedisCacheOptions } from './redis-cache.interfaces.js';

export type RedisClient = Redis | Cluster;

const DISCONNECT_TIMEOUT_MS = 200;
/**
 * ioredis' own per-command timeout is only a backstop (a reply that never comes is dropped from its queue at last):
 * the service bounds every command itself (`withTimeout`: the adaptive deadline, `commandTimeoutMs`, or an admin
 * call's longer deadline). Set to `commandTimeoutMs`, its timer raced the service's: it fires in the timers phase,
 * before the poll phase reads a reply already waiting in the socket (an event loop busy for 50 ms turned a served
 * hit into a miss), and it cut INFO and the health PING at `commandTimeoutMs` whatever their own deadline.
 */
const BACKSTOP_COMMAND_TIMEOUT_MS = 10_000;

/**
 * Builds the module's one ioredis client. The options are chosen for fail-open caching: no offline queue and one
 * retry per request, so a command on a dead server fails in milliseconds instead of waiting for a reconnect
 * (ioredis' defaults hang for seconds); reconnection continues in the background with capped backoff.
 */
export function createRedisClient(options: ResolvedRedisCacheOptions): RedisClient {
  const { connection } = options;
  const tls = connection.tls === true ? {} : connection.tls || undefined;
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Commands issued in the same event-loop tick (concurrent cache hits) go out in one socket write: a write
    // syscall per GET was the largest single cost of a hit under load.
    enableAutoPipelining: true,
    commandTimeout: Math.max(BACKSTOP_COMMAND_TIMEOUT_MS, options.commandTimeoutMs),
    connectTimeout: options.connectTimeoutMs,
    connectionName: options.connectionName,
    // ioredis arms this (ref'd) timer on every disconnect and clears it only on a later 'close' event, which never
    // comes when the server already died: shutdown after an outage would hold the process 2 s (its default).
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    username: connection.username,
    password: connection.password,
    tls,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
    // A standalone server that says READONLY (failover in progress) is reconnected rather than erroring forever.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };

  if (options.mode === 'cluster') {
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      // Not on a cluster (ioredis 5.9): auto-pipelining groups commands by the slot of their *first argument*, which
      // for EVAL/EVALSHA is the script, so lock releases were batched with GETs of other slots and failed with "All
      // keys in the pipeline should belong to the same slots allocation group"; and a MOVED during a failover or a
      // resharding fails the whole batch instead of one command (redis/ioredis#2075, #2109). Measured in
      // test/failover: with it on, every cluster failover dropped the hit ratio to ~5 % for seconds.
      enableAutoPipelining: false,
      enableOfflineQueue: false,
      maxRedirections: 4,
      retryDelayOnFailover: 50,
      retryDelayOnClusterDown: 50,
      slotsRefreshTimeout: options.connectTimeoutMs,
      clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
      redisOptions: { ...common, lazyConnect: false, enableAutoPipelining: false },
    };
    return new Cluster(connection.cluster!.nodes, clusterOptions);
  }
  if (options.mode === 'sentinel') {
    return new Redis({
      ...common,
      sentinels: connection.sentinel!.sentinels,
      name: connection.sentinel!.name,
      sentinelPassword: connection.sentinel!.sentinelPassword,
      db: connection.db,
    });
  }
  if (connection.url) {
    return new Redis(connection.url, { ...common, ...definedOnly({ db: connection.db }) });
  }
  return new Redis({
    ...common,
    host: connection.host ?? '127.0.0.1',
    port: connection.port ?? 6379,
    db: connection.db ?? 0,
  });
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
