import { describe, expect, it } from '@jest/globals';
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
import type { RedisCacheModuleOptions } from './redis-cache.interfaces.js';
import { resolveRedisCacheOptions } from './redis-cache.options.js';

describe('resolveRedisCacheOptions', () => {
  it('falls back to the in-memory store with every default when nothing is configured', () => {
    const o = resolveRedisCacheOptions();
    expect(o).toMatchObject({
      mode: 'memory',
      keyPrefix: DEFAULT_KEY_PREFIX,
      connectionName: DEFAULT_KEY_PREFIX,
      defaultTtlMs: DEFAULT_TTL_MS,
      commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
      statsFlushIntervalMs: DEFAULT_STATS_FLUSH_INTERVAL_MS,
      compressThresholdBytes: DEFAULT_COMPRESS_THRESHOLD_BYTES,
      maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES,
      breaker: {
        failureThreshold: DEFAULT_BREAKER_FAILURE_THRESHOLD,
        resetTimeoutMs: DEFAULT_BREAKER_RESET_TIMEOUT_MS,
      },
    });
    expect(DEFAULT_COMMAND_TIMEOUT_MS).toBeLessThan(100);
  });

  it.each<[string, RedisCacheModuleOptions, string]>([
    ['a url', { url: 'redis://127.0.0.1:6379/2' }, 'standalone'],
    ['a host', { host: 'redis.internal' }, 'standalone'],
    ['a port alone (localhost)', { port: 6380 }, 'standalone'],
    ['cluster nodes', { cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }] } }, 'cluster'],
    [
      'sentinels',
      { sentinel: { sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'mymaster' } },
      'sentinel',
    ],
    ['inMemory', { inMemory: true }, 'memory'],
  ])('chooses the mode from %s', (_what, options, mode) => {
    expect(resolveRedisCacheOptions(options).mode).toBe(mode);
  });

  it('keeps explicit values and uses connectionName for CLIENT LIST', () => {
    const o = resolveRedisCacheOptions({
      url: 'rediss://u:p@h:6380/1',
      keyPrefix: 'app*1',
      defaultTtlMs: 5,
      commandTimeoutMs: 7,
      breaker: { failureThreshold: 2 },
      connectionName: 'worker-3',
    });
    expect(o).toMatchObject({
      keyPrefix: 'app*1',
      defaultTtlMs: 5,
      commandTimeoutMs: 7,
      breaker: { failureThreshold: 2, resetTimeoutMs: DEFAULT_BREAKER_RESET_TIMEOUT_MS },
      connectionName: 'worker-3',
    });
  });

  const node = { host: '127.0.0.1', port: 7000 };
  it.each<[RedisCacheModuleOptions, RegExp]>([
    [{ url: 'redis://h', cluster: { nodes: [node] } }, /url\/host\/port \+ cluster .*choose one/],
    [{ host: 'h', sentinel: { sentinels: [node], name: 'm' } }, /choose one of url\/host\/port, sentinel/],
    [{ url: 'redis://h', inMemory: true }, /inMemory contradicts url\/host\/port/],
    [{ url: 'http://h:6379' }, /url must start with redis:\/\/ or rediss:\/\//],
    [{ url: 'redis://h:99999' }, /url is not a valid URL/],
    [{ host: '' }, /host must be a non-empty string/],
    [{ port: 0 }, /port must be an integer from 1 to 65535, got 0/],
    [{ port: 70000 }, /port must be an integer from 1 to 65535/],
    [{ port: 1.5 }, /port must be an integer/],
    [{ host: 'h', db: -1 }, /db must be an integer >= 0, got -1/],
    [{ host: 'h', db: 1.5 }, /db must be an integer/],
    [{ cluster: { nodes: [node] }, db: 2 }, /db must be 0 with cluster/],
    [{ cluster: { nodes: [] } }, /cluster.nodes must list at least one node/],
    [
      { cluster: { nodes: [{ host: '', port: 7000 }] } },
      /cluster.nodes\[0\].host must be a non-empty string/,
    ],
    [{ cluster: { nodes: [node, { host: 'h', port: -1 }] } }, /cluster.nodes\[1\].port must be an integer/],
    [{ sentinel: { sentinels: [], name: 'm' } }, /sentinel.sentinels must list at least one sentinel/],
    [{ sentinel: { sentinels: [node], name: '' } }, /sentinel.name must name the monitored master/],
    [{ host: 'h', tls: 'yes' as never }, /tls must be a boolean or Node TLS options/],
    [{ host: 'h', password: 42 as never }, /password must be a string/],
    [{ host: 'h', username: 42 as never }, /username must be a string/],
    [{ keyPrefix: '' }, /keyPrefix must be a non-empty string without spaces/],
    [{ keyPrefix: 'my app' }, /keyPrefix must be a non-empty string without spaces/],
    [{ connectionName: 'my app' }, /connectionName must be a non-empty string without spaces/],
    [{ defaultTtlMs: 0 }, /defaultTtlMs must be a positive number, got 0/],
    [{ defaultTtlMs: Number.POSITIVE_INFINITY }, /defaultTtlMs must be a positive number/],
    [{ commandTimeoutMs: -5 }, /commandTimeoutMs must be a positive number, got -5/],
    [{ connectTimeoutMs: Number.NaN }, /connectTimeoutMs must be a positive number, got NaN/],
    [{ statsFlushIntervalMs: 0 }, /statsFlushIntervalMs must be a positive number/],
    [{ compressThresholdBytes: -1 }, /compressThresholdBytes must be a positive number/],
    [{ maxEntryBytes: '1mb' as never }, /maxEntryBytes must be a positive number, got 1mb/],
    [{ breaker: { failureThreshold: 0 } }, /breaker.failureThreshold must be a positive integer, got 0/],
    [{ breaker: { failureThreshold: 2.5 } }, /breaker.failureThreshold must be a positive integer/],
    [{ breaker: { resetTimeoutMs: 0 } }, /breaker.resetTimeoutMs must be a positive number/],
  ])('rejects %j naming the option', (options, message) => {
    expect(() => resolveRedisCacheOptions(options)).toThrow(message);
    expect(() => resolveRedisCacheOptions(options)).toThrow(/^RedisCacheModule: /);
  });
});
