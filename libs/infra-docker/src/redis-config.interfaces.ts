export type MaxmemoryPolicy =
  | 'noeviction'
  | 'allkeys-lru'
  | 'allkeys-lfu'
  | 'allkeys-random'
  | 'volatile-lru'
  | 'volatile-lfu'
  | 'volatile-random'
  | 'volatile-ttl';

export type AppendFsync = 'always' | 'everysec' | 'no';
export type RedisLogLevel = 'debug' | 'verbose' | 'notice' | 'warning';
export type RedisConfigProfile = 'development' | 'production';

/** `save <afterSeconds> <minChanges>`: snapshot when at least `minChanges` writes happened in `afterSeconds`. */
export interface RedisSaveRule {
  afterSeconds: number;
  minChanges: number;
}

export interface RedisAclUser {
  name: string;
  /** Plain text; written to redis.conf as its SHA-256 (`#…`) unless `hashPasswords` is off. Omit for `nopass`. */
  password?: string;
  /** ACL rules after the password. Default: every key, channel and command (`~* &* +@all`). */
  rules?: string[];
  /** Operators, not apps: keep the commands `disabledCommands` removes from everyone else. */
  allowDangerousCommands?: boolean;
  /** `off` users exist but can't authenticate. Default true. */
  enabled?: boolean;
}

/** Everything the generated redis.conf says, typed. Option names follow the directives; units are in the name. */
export interface RedisConfigOptions {
  /** Addresses Redis listens on *where it runs* (inside the container's network namespace). */
  bind: string[];
  port: number;
  protectedMode: boolean;
  /** Password of the `default` user (what `redis://:password@host` authenticates as). */
  password?: string;
  aclUsers: RedisAclUser[];
  /** Redis memory notation: `256mb`, `1gb`, `0` (no limit). */
  maxmemory: string;
  maxmemoryPolicy: MaxmemoryPolicy;
  appendonly: boolean;
  appendfsync: AppendFsync;
  /** An empty list disables RDB snapshots. */
  save: RedisSaveRule[];
  tcpKeepaliveSeconds: number;
  /** Close idle clients after this many seconds; 0 never does. */
  timeoutSeconds: number;
  loglevel: RedisLogLevel;
  /** Commands app users may not run, e.g. FLUSHALL, FLUSHDB, KEYS, DEBUG, CONFIG. */
  disabledCommands: string[];
  /**
   * `acl` takes them from the default user and every ACL user not marked `allowDangerousCommands` (operators keep
   * them; can change live). `rename-command` removes them for everyone, including live updates when CONFIG is in the
   * list, and needs a restart to change.
   */
  disableCommandsVia: 'acl' | 'rename-command';
  /** Write passwords as SHA-256 hashes (`#…`) instead of plain `requirepass`, so the file holds no secret. */
  hashPasswords: boolean;
  dir: string;
  /** Raw directives appended verbatim (validated like the rest), for what has no typed option. */
  extraDirectives: string[];
}

/** What the validator needs to know about where the config will run, to judge exposure and memory. */
export interface RedisConfigValidationContext {
  /**
   * The only host address the server's port is published on (a container with a published port). Binding on all
   * interfaces *inside* the container is then judged by this address instead.
   */
  publishedOn?: string;
  /** The container's memory limit, to check `maxmemory` leaves room for fork and fragmentation. */
  memoryLimitBytes?: number;
}

export interface RedisConfigValidationResult {
  valid: boolean;
  errors: string[];
  warnings: string[];
  /** Whether a real `redis-server` also loaded the file (false when the binary isn't installed). */
  checkedWithRedisServer: boolean;
}

export interface RedisConfigUpdateResult {
  service: string;
  /** Directives changed on the running server (CONFIG SET / ACL SETUSER). */
  applied: string[];
  /** Persisted directives that only take effect after a restart (`redis down && redis up`). */
  restartRequired: string[];
  /** False when the container wasn't running: the change is persisted and used at the next start. */
  live: boolean;
  connectionUrl: string;
  warnings: string[];
}
