/**
 * Redis memory notation (`memtoull`): digits with an optional unit, case-insensitive. `k`/`m`/`g` are powers of
 * 1000 and `kb`/`mb`/`gb` powers of 1024 — so `256m` is not `256mb`, which is why both spellings are accepted
 * and kept as written.
 */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
};

/** Bytes for a Redis memory value, or undefined when Redis would refuse it. */
export function parseRedisMemory(value: string): number | undefined {
  const m = /^(\d+)([a-z]*)$/i.exec(value.trim());
  if (!m) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(m[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** `268435456` → `256 MiB`, for humans (status output, messages). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${i === 0 ? value : value.toFixed(value >= 10 ? 0 : 1)} ${units[i]}`;
}
