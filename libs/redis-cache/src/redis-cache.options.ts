import {
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
import type { RedisCacheModuleOptions, ResolvedRedisCacheOptions } from './redis-cache.interfaces.js';

/** Applies defaults and rejects contradictory or out-of-range options with a message naming the option. */
export function resolveRedisCacheOptions(options: RedisCacheModuleOptions = {}): ResolvedRedisCacheOptions {
  const { url, host, port, db, username, password, tls, cluster, sentinel } = options;
  const targets = [
    url || host ? 'url/host' : '',
    cluster ? 'cluster' : '',
    sentinel ? 'sentinel' : '',
  ].filter(Boolean);
  if (targets.length > 1) throw new Error(`RedisCacheModule: choose one of ${targets.join(', ')}`);
  if (cluster && !cluster.nodes?.length)
    throw new Error('RedisCacheModule: cluster.nodes must list at least one node');
  if (sentinel && (!sentinel.sentinels?.length || !sentinel.name)) {
    throw new Error('RedisCacheModule: sentinel needs sentinels and name');
  }
  if (url && !/^rediss?:\/\//.test(url))
    throw new Error(`RedisCacheModule: url must start with redis:// or rediss://`);
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (!keyPrefix || /\s/.test(keyPrefix))
    throw new Error('RedisCacheModule: keyPrefix must be non-empty, no spaces');

  const resolved: ResolvedRedisCacheOptions = {
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
      failureThreshold: positive(
        'breaker.failureThreshold',
        options.breaker?.failureThreshold ?? DEFAULT_BREAKER_FAILURE_THRESHOLD,
      ),
      resetTimeoutMs: positive(
        'breaker.resetTimeoutMs',
        options.breaker?.resetTimeoutMs ?? DEFAULT_BREAKER_RESET_TIMEOUT_MS,
      ),
    },
    connectionName: options.connectionName ?? keyPrefix,
  };
  return resolved;
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`RedisCacheModule: ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}
