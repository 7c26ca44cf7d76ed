import {
  DEFAULT_ADAPTIVE_TIMEOUT_FLOOR_MS,
  DEFAULT_ADAPTIVE_TIMEOUT_P99_MULTIPLIER,
  DEFAULT_BREAKER_FAILURE_THRESHOLD,
  DEFAULT_BREAKER_RESET_TIMEOUT_MS,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_COMPRESS_THRESHOLD_BYTES,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_KEY_PREFIX,
  DEFAULT_MAX_ENTRY_BYTES,
  DEFAULT_STATS_FLUSH_INTERVAL_MS,
  DEFAULT_TTL_MS,
} from './redis-cache.constants.js';
import type {
  RedisCacheModuleOptions,
  RedisNodeAddress,
  ResolvedRedisCacheOptions,
} from './redis-cache.interfaces.js';

/**
 * Applies defaults and rejects contradictory or out-of-range options with a message naming the option, so a
 * misconfiguration fails at start-up instead of silently caching in memory or never connecting.
 */
export function resolveRedisCacheOptions(options: RedisCacheModuleOptions = {}): ResolvedRedisCacheOptions {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object');
  const { url, host, port, db, username, password, tls, cluster, sentinel } = options;
  // `port` alone means a server on localhost; dropping to the in-memory store for it would hide the mistake.
  const standalone = url !== undefined || host !== undefined || port !== undefined;
  const targets = [
    standalone ? 'url/host/port' : '',
    cluster ? 'cluster' : '',
    sentinel ? 'sentinel' : '',
  ].filter(Boolean);
  if (targets.length > 1) fail(targets.join(' + '), `choose one of ${targets.join(', ')}`);
  if (options.inMemory && targets.length > 0) fail('inMemory', `contradicts ${targets[0]}`);

  if (url !== undefined) {
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url))
      fail('url', 'must start with redis:// or rediss://');
    try {
      new URL(url);
    } catch {
      fail('url', 'is not a valid URL');
    }
  }
  if (host !== undefined && (typeof host !== 'string' || host.length === 0))
    fail('host', 'must be a non-empty string');
  if (port !== undefined) validPort('port', port);
  if (db !== undefined && (!Number.isInteger(db) || db < 0))
    fail('db', `must be an integer >= 0, got ${String(db)}`);
  if (db !== undefined && db !== 0 && cluster)
    fail('db', 'must be 0 with cluster (Redis Cluster has one database)');
  if (username !== undefined && typeof username !== 'string') fail('username', 'must be a string');
  if (password !== undefined && typeof password !== 'string') fail('password', 'must be a string');
  if (tls !== undefined && typeof tls !== 'boolean' && (tls === null || typeof tls !== 'object'))
    fail('tls', 'must be a boolean or Node TLS options');
  if (cluster) {
    if (!Array.isArray(cluster.nodes) || cluster.nodes.length === 0)
      fail('cluster.nodes', 'must list at least one node');
    cluster.nodes.forEach((n, i) => validNode(`cluster.nodes[${i}]`, n));
  }
  if (sentinel) {
    if (!Array.isArray(sentinel.sentinels) || sentinel.sentinels.length === 0)
      fail('sentinel.sentinels', 'must list at least one sentinel');
    sentinel.sentinels.forEach((n, i) => validNode(`sentinel.sentinels[${i}]`, n));
    if (typeof sentinel.name !== 'string' || sentinel.name.length === 0)
      fail('sentinel.name', 'must name the monitored master');
  }

  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0 || /\s/.test(keyPrefix))
    fail('keyPrefix', 'must be a non-empty string without spaces');
  const connectionName = options.connectionName ?? keyPrefix;
  // CLIENT SETNAME refuses spaces; ioredis would then fail every connection attempt.
  if (typeof connectionName !== 'string' || connectionName.length === 0 || /\s/.test(connectionName))
    fail('connectionName', 'must be a non-empty string without spaces');

  return {
    connection: { url, host, port, db, username, password, tls, cluster, sentinel },
    mode:
      options.inMemory || targets.length === 0
        ? 'memory'
        : cluster
          ? 'cluster'
          : sentinel
            ? 'sentinel'
            : 'standalone',
    keyPrefix,
    defaultTtlMs: positive('defaultTtlMs', options.defaultTtlMs ?? DEFAULT_TTL_MS),
    commandTimeoutMs: positive('commandTimeoutMs', options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
    statsFlushIntervalMs: positive(
      'statsFlushIntervalMs',
      options.statsFlushIntervalMs ?? DEFAULT_STATS_FLUSH_INTERVAL_MS,
    ),
    compressThresholdBytes: positive(
      'compressThresholdBytes',
      options.compressThresholdBytes ?? DEFAULT_COMPRESS_THRESHOLD_BYTES,
    ),
    maxEntryBytes: positive('maxEntryBytes', options.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES),
    breaker: {
      failureThreshold: positiveInteger(
        'breaker.failureThreshold',
        options.breaker?.failureThreshold ?? DEFAULT_BREAKER_FAILURE_THRESHOLD,
      ),
      resetTimeoutMs: positive(
        'breaker.resetTimeoutMs',
        options.breaker?.resetTimeoutMs ?? DEFAULT_BREAKER_RESET_TIMEOUT_MS,
      ),
    },
    adaptiveTimeout:
      options.adaptiveTimeout === false
        ? false
        : {
            floorMs: positive(
              'adaptiveTimeout.floorMs',
              options.adaptiveTimeout?.floorMs ?? DEFAULT_ADAPTIVE_TIMEOUT_FLOOR_MS,
            ),
            p99Multiplier: positive(
              'adaptiveTimeout.p99Multiplier',
              options.adaptiveTimeout?.p99Multiplier ?? DEFAULT_ADAPTIVE_TIMEOUT_P99_MULTIPLIER,
            ),
          },
    connectionName,
  };
}

function fail(name: string, why: string): never {
  throw new Error(`RedisCacheModule: ${name} ${why}`);
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(name, `must be a positive number, got ${String(value)}`);
  }
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) fail(name, `must be a positive integer, got ${String(value)}`);
  return value;
}

function validPort(name: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535)
    fail(name, `must be an integer from 1 to 65535, got ${String(value)}`);
}

function validNode(name: string, node: RedisNodeAddress): void {
  if (node === null || typeof node !== 'object') fail(name, 'must be { host, port }');
  if (typeof node.host !== 'string' || node.host.length === 0)
    fail(`${name}.host`, 'must be a non-empty string');
  validPort(`${name}.port`, node.port);
}
