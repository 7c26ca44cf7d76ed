/** What OpenAI calls the two limits in its headers: `x-ratelimit-<field>-requests` / `-tokens`. */
export type RateLimitUnit = 'requests' | 'tokens';

/**
 * OpenAI's rate-limit headers for one limit, so clients that already back off on them (the official SDKs honour
 * `Retry-After`) work unchanged against this app. The reset is a duration in OpenAI's (Go's) format: `20ms`, `12s`,
 * `6m0s`, `1h2m3s`.
 */
export function rateLimitHeaders(
  unit: RateLimitUnit,
  limit: number,
  remaining: number,
  resetInMs: number,
): Record<string, string> {
  return {
    [`x-ratelimit-limit-${unit}`]: String(limit),
    [`x-ratelimit-remaining-${unit}`]: String(Math.max(0, remaining)),
    [`x-ratelimit-reset-${unit}`]: formatResetDuration(resetInMs),
  };
}

export function retryAfterHeader(resetInMs: number): Record<string, string> {
  return { 'Retry-After': String(Math.max(1, Math.ceil(resetInMs / 1000))) };
}

export function formatResetDuration(ms: number): string {
  const clamped = Math.max(0, Math.round(ms));
  if (clamped < 1000) return `${clamped}ms`;
  const total = Math.ceil(clamped / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}
