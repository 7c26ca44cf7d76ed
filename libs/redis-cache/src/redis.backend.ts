import { Cluster, Command, type Redis } from 'ioredis';
import type { CacheBackend, ScanDeleteOptions } from './cache-backend.interface.js';
import type { RedisClient } from './redis-client.factory.js';

const SCAN_COUNT = 500;
const UNLINK_BATCH = 500;
const DELETE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXPIRE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
/** KEYS: lock, entry · ARGV: token, ttl ms → the entry, or 1 (locked) / 0 (held by another owner). */
const LOCK_UNLESS_PRESENT = `local v = redis.call('GET', KEYS[2])
if v then return v end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0`;
/** KEYS: entry, lock · ARGV: value, ttl ms, token. */
const SET_AND_DELETE_IF_EQUALS = `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`;

/** The scripts, registered with ioredis' defineCommand (EVALSHA, falling back to EVAL once per connection). */
interface ScriptCommands {
  llmCacheLockUnlessPresentBuffer(
    lockKey: string,
    entryKey: string,
    token: string,
    ttlMs: number,
  ): Promise<Buffer | number>;
  llmCacheSetAndDeleteIfEquals(
    key: string,
    lockKey: string,
    value: Buffer | string,
    ttlMs: number,
    token: string,
  ): Promise<number>;
}

/** CacheBackend over one ioredis client (standalone, sentinel or cluster). */
export class RedisBackend implements CacheBackend {
  readonly kind = 'redis' as const;

  private readonly errorListeners: Array<(err: Error) => void> = [];

  constructor(readonly client: RedisClient) {
    // Without a listener ioredis prints every failed reconnect attempt to stderr. Commands then fail with a generic
    // "Stream isn't writeable": the real cause (WRONGPASS, DNS, TLS) is only in these events, so it is passed on to
    // the service, which logs it (once per cause).
    const forward = (err: Error) => {
      for (const listener of this.errorListeners) listener(err);
    };
    client.on('error', forward);
    if (client instanceof Cluster) client.on('node error', forward);
    client.defineCommand('llmCacheLockUnlessPresent', { numberOfKeys: 2, lua: LOCK_UNLESS_PRESENT });
    client.defineCommand('llmCacheSetAndDeleteIfEquals', { numberOfKeys: 2, lua: SET_AND_DELETE_IF_EQUALS });
  }

  private get scripts(): ScriptCommands {
    return this.client as unknown as ScriptCommands;
  }

  isReady(): boolean {
    return this.client.status === 'ready';
  }

  async connect(): Promise<void> {
    const status = this.client.status;
    if (status === 'ready' || status === 'connecting' || status === 'connect' || status === 'reconnecting')
      return;
    await this.client.connect();
  }

  async disconnect(): Promise<void> {
    if (this.client.status === 'end') return;
    if (this.client.status !== 'ready') {
      // Not connected: stop the reconnect loop instead of queueing a QUIT nobody will answer.
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  get(key: string): Promise<Buffer | null> {
    return this.client.getBuffer(key);
  }

  async mget(keys: string[]): Promise<Array<Buffer | null>> {
    if (keys.length === 0) return [];
    if (this.client instanceof Cluster) {
      // MGET across slots is refused by a cluster; one GET per key, pipelined by ioredis per node.
      return Promise.all(keys.map((k) => this.client.getBuffer(k)));
    }
    return this.client.mgetBuffer(...keys);
  }

  async set(
    key: string,
    value: Buffer | string,
    ttlMs: number,
    onlyIfAbsent: boolean,
    dispatchNow = false,
  ): Promise<boolean> {
    const px = toPx(ttlMs);
    if (dispatchNow && !(this.client instanceof Cluster) && this.client.options.enableAutoPipelining) {
      // Auto-pipelining would hold the command until the tick's end (setImmediate), and longer while an earlier
      // batch waits for its replies. (A cluster client does not auto-pipeline: its SET below is written at once.)
      const args = onlyIfAbsent ? [key, value, 'PX', px, 'NX'] : [key, value, 'PX', px];
      return ((await this.sendBeforeNextMicrotask(args)) as string | null) === 'OK';
    }
    const reply = onlyIfAbsent
      ? await this.client.set(key, value, 'PX', px, 'NX')
      : await this.client.set(key, value, 'PX', px);
    return reply === 'OK';
  }

  /**
   * Queues a SET for a write that a microtask queued now performs: it runs before anything that awaits after this call
   * resumes (microtasks run in order), so a caller that awaits once has its command on the socket, behind what is
   * already there; SETs queued by other requests' code running before that microtask share its one socket write
   * (turns answered in the same tick), instead of one write each.
   */
  private sendBeforeNextMicrotask(args: Array<string | Buffer | number>): Promise<unknown> {
    let batch = this.nowBatch;
    if (!batch) {
      batch = this.nowBatch = [];
      queueMicrotask(() => this.flushNowBatch());
    }
    const queued = batch;
    return new Promise((resolve, reject) => queued.push({ args, resolve, reject }));
  }

  private flushNowBatch(): void {
    const batch = this.nowBatch ?? [];
    this.nowBatch = undefined;
    const client = this.client as Redis;
    if (batch.length === 1) {
      const [{ args, resolve, reject }] = batch;
      const command = new Command('set', args, { replyEncoding: 'utf8' });
      client.sendCommand(command);
      command.promise.then(resolve, reject);
      return;
    }
    // One pipeline: written in one socket write, synchronously (no scripts in it); each SET gets its own reply.
    const pipeline = client.pipeline();
    for (const { args } of batch) pipeline.call('set', ...args);
    pipeline.exec().then(
      (results) =>
        batch.forEach(({ resolve, reject }, i) => {
          const [err, reply] = results?.[i] ?? [new Error('no reply in the pipeline')];
          if (err) reject(err);
          else resolve(reply);
        }),
      (err: unknown) => batch.forEach(({ reject }) => reject(err)),
    );
  }

  private nowBatch:
    | Array<{
        args: Array<string | Buffer | number>;
        resolve: (reply: unknown) => void;
        reject: (err: unknown) => void;
      }>
    | undefined;

  async delete(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (this.client instanceof Cluster) {
      const counts = await Promise.all(keys.map((k) => this.client.unlink(k)));
      return counts.reduce((a, b) => a + b, 0);
    }
    return this.client.unlink(...keys);
  }

  async exists(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (this.client instanceof Cluster) {
      // Multi-key EXISTS needs one slot in a cluster; one per key, pipelined by ioredis per node.
      const counts = await Promise.all(keys.map((k) => this.client.exists(k)));
      return counts.reduce((a, b) => a + b, 0);
    }
    return this.client.exists(...keys);
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    return (await this.client.eval(DELETE_IF_EQUALS, 1, key, expected)) === 1;
  }

  async lockUnlessPresent(
    lockKey: string,
    token: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<Buffer | boolean> {
    const px = toPx(ttlMs);
    const reply = await this.scripts.llmCacheLockUnlessPresentBuffer(lockKey, entryKey, token, px);
    return Buffer.isBuffer(reply) ? reply : reply === 1;
  }

  async setAndDeleteIfEquals(
    key: string,
    value: Buffer | string,
    ttlMs: number,
    lockKey: string,
    token: string,
  ): Promise<void> {
    const px = toPx(ttlMs);
    await this.scripts.llmCacheSetAndDeleteIfEquals(key, lockKey, value, px, token);
  }

  async expireIfEquals(key: string, expected: string, ttlMs: number): Promise<boolean> {
    const px = toPx(ttlMs);
    return (await this.client.eval(EXPIRE_IF_EQUALS, 1, key, expected, px)) === 1;
  }

  async scanDelete(
    match: string,
    options: ScanDeleteOptions = {},
  ): Promise<{ deleted: number; complete: boolean }> {
    const nodes: Redis[] = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    const results = await Promise.all(nodes.map((node) => scanDeleteOnNode(node, match, options)));
    return {
      deleted: results.reduce((a, r) => a + r.deleted, 0),
      complete: results.every((r) => r.complete),
    };
  }

  async incrementHash(key: string, fields: Record<string, number>, ttlMs: number): Promise<void> {
    const entries = Object.entries(fields).filter(([, v]) => v !== 0 && Number.isFinite(v));
    if (entries.length === 0) return;
    const pipeline = this.client.pipeline();
    for (const [field, by] of entries) {
      if (Number.isInteger(by)) pipeline.hincrby(key, field, by);
      else pipeline.hincrbyfloat(key, field, by);
    }
    pipeline.pexpire(key, ttlMs);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  getHash(key: string): Promise<Record<string, string>> {
    return this.client.hgetall(key);
  }

  async ping(): Promise<void> {
    if (this.client instanceof Cluster) {
      await Promise.all(this.client.nodes('master').map((n) => n.ping()));
      return;
    }
    await this.client.ping();
  }

  async info(): Promise<Array<{ address: string; text: string }>> {
    const nodes: Redis[] = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    return Promise.all(
      nodes.map(async (n) => ({ address: `${n.options.host}:${n.options.port}`, text: await n.info() })),
    );
  }

  onError(listener: (err: Error) => void): void {
    this.errorListeners.push(listener);
  }

  onStateChange(listener: (state: 'connected' | 'disconnected' | 'connecting') => void): void {
    this.client.on('ready', () => listener('connected'));
    this.client.on('close', () => listener('disconnected'));
    this.client.on('reconnecting', () => listener('connecting'));
  }
}

/** SCAN (never KEYS) + UNLINK in batches, on one node. Keys come back from the node that owns them. */
async function scanDeleteOnNode(
  node: Redis,
  match: string,
  { deadlineAtMs = Infinity, onDeleted }: ScanDeleteOptions,
): Promise<{ deleted: number; complete: boolean }> {
  let cursor = '0';
  let deleted = 0;
  do {
    // Checked between pages: a page in flight is finished, so the count reported is exactly what was deleted.
    if (Date.now() >= deadlineAtMs) return { deleted, complete: false };
    const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    cursor = next;
    for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
      const batch = keys.slice(i, i + UNLINK_BATCH);
      // In a cluster, multi-key UNLINK needs one slot; single-key commands pipelined on the owner node are safe.
      const pipeline = node.pipeline();
      for (const key of batch) pipeline.unlink(key);
      const results = (await pipeline.exec()) ?? [];
      let batchDeleted = 0;
      for (const [err, n] of results) if (!err) batchDeleted += Number(n);
      deleted += batchDeleted;
      onDeleted?.(batchDeleted);
    }
  } while (cursor !== '0');
  return { deleted, complete: true };
}

/** A TTL as Redis' `PX` argument: whole milliseconds, at least 1 (PX 0 is an error). */
function toPx(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}
