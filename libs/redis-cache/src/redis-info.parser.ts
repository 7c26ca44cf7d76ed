import type { RedisInfoSummary } from './redis-cache.interfaces.js';

/** `INFO` text → flat field map (`# Section` headers dropped; `db0:keys=1,…` kept as text). */
export function parseRedisInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Sums the counters of every node (a cluster) and keeps the first node's descriptive fields. */
export function summarizeInfo(
  infos: Array<Record<string, string>>,
): Omit<RedisInfoSummary, 'mode' | 'connected' | 'nodes'> {
  const sum = (field: string) => infos.reduce((acc, i) => acc + (Number(i[field]) || 0), 0);
  const keys = infos.reduce((acc, info) => {
    let n = 0;
    for (const [field, value] of Object.entries(info)) {
      if (/^db\d+$/.test(field)) n += Number(/keys=(\d+)/.exec(value)?.[1] ?? 0);
      else if (field === 'keys') n += Number(value) || 0;
    }
    return acc + n;
  }, 0);
  const first = infos[0] ?? {};
  return {
    redisVersion: first.redis_version,
    connectedClients: sum('connected_clients'),
    usedMemoryBytes: sum('used_memory'),
    usedMemoryHuman: infos.length === 1 ? first.used_memory_human : formatBytes(sum('used_memory')),
    keyspaceHits: sum('keyspace_hits'),
    keyspaceMisses: sum('keyspace_misses'),
    evictedKeys: sum('evicted_keys'),
    uptimeSeconds: first.uptime_in_seconds === undefined ? undefined : Number(first.uptime_in_seconds),
    keys,
  };
}

function formatBytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(2)}${units[i]}`;
}
