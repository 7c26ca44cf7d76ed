/**
 * The raw operations the cache needs, on full (already prefixed) keys. Two implementations: Redis (standalone,
 * cluster or sentinel through one ioredis client) and an in-process store for a first run without Redis.
 * Backends may throw or hang; `RedisCacheService` bounds and absorbs that.
 */
export interface CacheBackend {
  readonly kind: 'redis' | 'memory';
  /** True when commands can be sent right now. */
  isReady(): boolean;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  get(key: string): Promise<Buffer | null>;
  mget(keys: string[]): Promise<Array<Buffer | null>>;
  /**
   * Returns false when `onlyIfAbsent` was asked and the key existed. `dispatchNow`: the command is handed to the
   * connection before `set` returns, not batched for later (see `CacheSetOptions.dispatchNow`).
   */
  set(
    key: string,
    value: Buffer | string,
    ttlMs: number,
    onlyIfAbsent: boolean,
    dispatchNow?: boolean,
  ): Promise<boolean>;
  delete(keys: string[]): Promise<number>;
  /** How many of `keys` exist (live, not expired), without reading their values. */
  exists(keys: string[]): Promise<number>;
  /** Deletes the key only while it still holds `expected` (lock release by its owner). */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;
  /**
   * In one atomic step: when `entryKey` exists its value comes back and no lock is taken; otherwise a lock
   * (`SET lockKey token NX PX ttlMs`) is attempted: true when taken, false when another owner holds it. Both keys
   * must live in one cluster slot (a shared hash tag).
   */
  lockUnlessPresent(
    lockKey: string,
    token: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<Buffer | boolean>;
  /** In one atomic step: writes `key` with a TTL, then deletes `lockKey` if it still holds `token` (same slot). */
  setAndDeleteIfEquals(
    key: string,
    value: Buffer | string,
    ttlMs: number,
    lockKey: string,
    token: string,
  ): Promise<void>;
  /**
   * SCAN + UNLINK of every key matching a glob, on every master. Stops between two SCAN pages once `deadlineAtMs`
   * (epoch ms) has passed: `complete: false`, with the count so far. `onDeleted` hears every batch as it is
   * deleted, so a caller still knows the count when a later batch fails.
   */
  scanDelete(match: string, options?: ScanDeleteOptions): Promise<{ deleted: number; complete: boolean }>;
  /** Sets a new TTL only while the key still holds `expected` (a lock extended by its owner); true if it did. */
  expireIfEquals(key: string, expected: string, ttlMs: number): Promise<boolean>;
  /** Adds to numeric fields of a hash (HINCRBYFLOAT) and keeps the hash alive for `ttlMs`. */
  incrementHash(key: string, fields: Record<string, number>, ttlMs: number): Promise<void>;
  getHash(key: string): Promise<Record<string, string>>;
  ping(): Promise<void>;
  /** Raw `INFO` text per master. */
  info(): Promise<Array<{ address: string; text: string }>>;
  /** Registers a callback for connection state changes. */
  onStateChange(listener: (state: 'connected' | 'disconnected' | 'connecting') => void): void;
  /** Registers a callback for connection-level errors (auth, DNS, TLS, refused), which no command reports itself. */
  onError?(listener: (err: Error) => void): void;
}

export interface ScanDeleteOptions {
  deadlineAtMs?: number;
  onDeleted?: (count: number) => void;
}
