import type { RedisConfigOptions, RedisConfigProfile } from './redis-config.interfaces.js';

/** Commands an application never needs and an attacker (or a bug) loves: wipe, scan everything, reconfigure. */
export const DANGEROUS_COMMANDS = ['FLUSHALL', 'FLUSHDB', 'KEYS', 'DEBUG', 'CONFIG'];

/** The seed's defaults: a 256 MB LRU cache with AOF every second and the classic RDB save points. */
const DEVELOPMENT: RedisConfigOptions = {
  bind: ['127.0.0.1'],
  port: 6379,
  protectedMode: true,
  aclUsers: [],
  maxmemory: '256mb',
  maxmemoryPolicy: 'allkeys-lru',
  appendonly: true,
  appendfsync: 'everysec',
  save: [
    { afterSeconds: 900, minChanges: 1 },
    { afterSeconds: 300, minChanges: 10 },
    { afterSeconds: 60, minChanges: 10000 },
  ],
  tcpKeepaliveSeconds: 300,
  timeoutSeconds: 0,
  loglevel: 'notice',
  disabledCommands: [],
  disableCommandsVia: 'acl',
  hashPasswords: true,
  dir: '/data',
  extraDirectives: [],
};

/**
 * Auth on (a password is generated when none is given), dangerous commands taken from app users, and LFU —
 * LLM responses are hit by popularity more than by recency. 768 MB under the 1 GiB container limit leaves room
 * for fragmentation and the AOF-rewrite fork.
 */
const PRODUCTION: RedisConfigOptions = {
  ...DEVELOPMENT,
  maxmemory: '768mb',
  maxmemoryPolicy: 'allkeys-lfu',
  loglevel: 'notice',
  disabledCommands: DANGEROUS_COMMANDS,
};

/** Container resources per profile (the seed: 1 GiB for production). */
export const PROFILE_CONTAINER_DEFAULTS: Record<
  RedisConfigProfile,
  { memoryLimitBytes: number; cpuLimitCores: number }
> = {
  development: { memoryLimitBytes: 512 * 1024 ** 2, cpuLimitCores: 1 },
  production: { memoryLimitBytes: 1024 ** 3, cpuLimitCores: 1 },
};

/** Profiles whose `start()` refuses to run without a password (one is generated when missing). */
export const PROFILES_REQUIRING_AUTH: ReadonlySet<RedisConfigProfile> = new Set(['production']);

export function redisConfigProfile(profile: RedisConfigProfile = 'development'): RedisConfigOptions {
  const base = { development: DEVELOPMENT, production: PRODUCTION }[profile];
  if (!base) throw new TypeError(`unknown profile ${JSON.stringify(profile)} (development | production)`);
  return structuredClone(base);
}
