/** What a cache did for one request; `collapsed` = coalesced into another request's forward (RFC 9211). */
export type CacheOutcomeStatus = 'hit' | 'collapsed' | 'miss' | 'refresh' | 'bypass';

export interface CacheOutcomeForHeaders {
  status: CacheOutcomeStatus;
  /** Age of the answer served (hit, collapsed). */
  ageMs?: number;
  /** Remaining lifetime of the entry, shown as `ttl=` on hit and collapsed when known. */
  ttlMs?: number;
  /** Whether the answer was written (miss, refresh). */
  stored?: boolean;
}

/**
 * `X-Cache`, RFC 9211 `Cache-Status` and `Age` for one outcome — the single definition shared by the generic
 * response cache and the LLM cache, so both speak the same header dialect.
 */
export function cacheStatusHeaders(
  cacheName: string,
  outcome: CacheOutcomeForHeaders,
): Record<string, string> {
  const ttl = outcome.ttlMs !== undefined ? `; ttl=${Math.floor(outcome.ttlMs / 1000)}` : '';
  const stored = outcome.stored ? '; stored' : '';
  const age = String(Math.floor((outcome.ageMs ?? 0) / 1000));
  switch (outcome.status) {
    case 'hit':
      return { 'X-Cache': 'HIT', 'Cache-Status': `${cacheName}; hit${ttl}`, Age: age };
    case 'collapsed':
      // Collapsed into another request's forward: a hit for this client.
      return { 'X-Cache': 'HIT', 'Cache-Status': `${cacheName}; fwd=miss; collapsed${ttl}`, Age: age };
    case 'miss':
      return { 'X-Cache': 'MISS', 'Cache-Status': `${cacheName}; fwd=miss${stored}` };
    case 'refresh':
      return { 'X-Cache': 'MISS', 'Cache-Status': `${cacheName}; fwd=request${stored}` };
    case 'bypass':
      return { 'X-Cache': 'BYPASS', 'Cache-Status': `${cacheName}; fwd=bypass` };
  }
}
