import type { CacheBackend, ScanDeleteOptions } from './cache-backend.interface.js';

interface MemoryItem {
  value: Buffer | string;
  expiresAtMs: number;
}

/** Cap so a long first-run session cannot grow the process without bound; oldest writes are evicted first. */
const DEFAULT_MAX_ITEMS = 10_000;

/**
 * In-process store with Redis semantics for the operations the cache uses. For a first run without Redis and for
 * a single process only: nothing is shared between replicas.
 */
export class MemoryBackend implements CacheBackend {
  readonly kind = 'memory' as const;
  private readonly items = new Map<string, MemoryItem>();
  private readonly hashes = new Map<string, Map<string, number>>();

  constructor(
    private readonly maxItems = DEFAULT_MAX_ITEMS,
    private readonly now: () => number = Date.now,
  ) {}

  isReady(): boolean {
    return true;
  }

  async connect(): Promise<void> {}

  async disconnect(): Promise<void> {}

  async get(key: string): Promise<Buffer | null> {
    const item = this.live(key);
    if (!item) return null;
    return typeof item.value === 'string' ? Buffer.from(item.value) : item.value;
  }

  async mget(keys: string[]): Promise<Array<Buffer | null>> {
    return Promise.all(keys.map((k) => this.get(k)));
  }

  async set(key: string, value: Buffer | string, ttlMs: number, onlyIfAbsent: boolean): Promise<boolean> {
    if (onlyIfAbsent && this.live(key)) return false;
    this.items.delete(key);
    this.items.set(key, { value, expiresAtMs: this.now() + ttlMs });
    while (this.items.size > this.maxItems) {
      const oldest = this.items.keys().next().value as string;
      this.items.delete(oldest);
    }
    return true;
  }

  async delete(keys: string[]): Promise<number> {
    let n = 0;
    for (const k of keys) if (this.live(k) && this.items.delete(k)) n++;
    return n;
  }

  async exists(keys: string[]): Promise<number> {
    return keys.filter((k) => this.live(k)).length;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    const item = this.live(key);
    if (!item || item.value.toString() !== expected) return false;
    return this.items.delete(key);
  }

  async lockUnlessPresent(
    lockKey: string,
    token: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<Buffer | boolean> {
    const entry = await this.get(entryKey);
    return entry ?? this.set(lockKey, token, ttlMs, true);
  }

  async setAndDeleteIfEquals(
    key: string,
    value: Buffer | string,
    ttlMs: number,
    lockKey: string,
    token: string,
  ): Promise<void> {
    await this.set(key, value, ttlMs, false);
    await this.deleteIfEquals(lockKey, token);
  }

  async expireIfEquals(key: string, expected: string, ttlMs: number): Promise<boolean> {
    const item = this.live(key);
    if (!item || item.value.toString() !== expected) return false;
    item.expiresAtMs = this.now() + ttlMs;
    return true;
  }

  // In-process and bounded by `maxItems`: one pass, no deadline needed.
  async scanDelete(
    match: string,
    options: ScanDeleteOptions = {},
  ): Promise<{ deleted: number; complete: boolean }> {
    const glob = compileGlob(match);
    let n = 0;
    for (const key of [...this.items.keys()]) {
      if (glob.test(key) && this.live(key)) {
        this.items.delete(key);
        n++;
      }
    }
    options.onDeleted?.(n);
    return { deleted: n, complete: true };
  }

  // The TTL is not applied: counter hashes are few and live as long as the process.
  async incrementHash(key: string, fields: Record<string, number>, _ttlMs?: number): Promise<void> {
    const hash = this.hashes.get(key) ?? new Map<string, number>();
    for (const [f, by] of Object.entries(fields)) hash.set(f, (hash.get(f) ?? 0) + by);
    this.hashes.set(key, hash);
  }

  async getHash(key: string): Promise<Record<string, string>> {
    const hash = this.hashes.get(key);
    return hash ? Object.fromEntries([...hash].map(([f, v]) => [f, String(v)])) : {};
  }

  async ping(): Promise<void> {}

  async info(): Promise<Array<{ address: string; text: string }>> {
    const used = process.memoryUsage().heapUsed;
    return [{ address: 'memory', text: `# Keyspace\r\nkeys:${this.items.size}\r\nused_memory:${used}\r\n` }];
  }

  onStateChange(): void {}

  private live(key: string): MemoryItem | undefined {
    const item = this.items.get(key);
    if (item && item.expiresAtMs <= this.now()) {
      this.items.delete(key);
      return undefined;
    }
    return item;
  }
}

/** A compiled Redis glob: `test()` runs in O(pattern × key) time whatever the pattern. */
export interface GlobMatcher {
  test(text: string): boolean;
}

type GlobToken = { star: true } | { star: false; matches: (c: string) => boolean };

/**
 * Redis glob matcher for the in-memory SCAN MATCH, following Redis' `stringmatchlen`: `*`, `?`, `\x` (literal x),
 * classes `[abc]`, `[^abc]`, `[a-z]` (reversed ranges allowed), `\` escapes inside a class, and an unterminated `[`
 * that runs to the end of the pattern. Not a RegExp: a backtracking engine takes exponential time on patterns such
 * as `*?*?*?…a` (an admin-supplied pattern must not be able to stall the process); the matcher below backtracks
 * only to the last `*`, which is linear per star.
 */
export function compileGlob(glob: string): GlobMatcher {
  const tokens: GlobToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\' && i + 1 < glob.length) tokens.push(literal(glob[++i]));
    else if (c === '*') {
      if (!tokens.at(-1)?.star) tokens.push({ star: true });
    } else if (c === '?') tokens.push({ star: false, matches: () => true });
    else if (c === '[') {
      let j = i + 1;
      const negate = glob[j] === '^';
      if (negate) j++;
      const singles = new Set<string>();
      const ranges: Array<[string, string]> = [];
      while (j < glob.length && glob[j] !== ']') {
        if (glob[j] === '\\' && j + 1 < glob.length) {
          singles.add(glob[j + 1]);
          j += 2;
        } else if (j + 2 < glob.length && glob[j + 1] === '-') {
          const [lo, hi] = [glob[j], glob[j + 2]].sort();
          ranges.push([lo, hi]);
          j += 3;
        } else singles.add(glob[j++]);
      }
      const inClass = (ch: string) => singles.has(ch) || ranges.some(([lo, hi]) => ch >= lo && ch <= hi);
      // An empty class matches nothing; an empty negated one matches any single character (as in Redis).
      tokens.push({ star: false, matches: negate ? (ch) => !inClass(ch) : inClass });
      i = j;
    } else tokens.push(literal(c));
  }
  return { test: (text) => matchTokens(tokens, text) };
}

function literal(c: string): GlobToken {
  return { star: false, matches: (ch) => ch === c };
}

/** Greedy wildcard match that, on a mismatch, retries only from the most recent `*` (one key position further). */
function matchTokens(tokens: GlobToken[], text: string): boolean {
  let t = 0;
  let s = 0;
  let starT = -1;
  let starS = 0;
  while (s < text.length) {
    const token = tokens[t];
    if (token && !token.star && token.matches(text[s])) {
      t++;
      s++;
    } else if (token?.star) {
      starT = t++;
      starS = s;
    } else if (starT >= 0) {
      t = starT + 1;
      s = ++starS;
    } else return false;
  }
  while (tokens[t]?.star) t++;
  return t === tokens.length;
}
