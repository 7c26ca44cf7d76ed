import type { LlmCacheEntry } from '../stream.codec.js';

/** A stored completion entry for unit specs (one choice, "hi"), written now unless `overrides` says otherwise. */
export function cacheEntryFixture(overrides: Partial<LlmCacheEntry> = {}): LlmCacheEntry {
  return {
    format: 1,
    createdAtMs: Date.now(),
    upstreamLatencyMs: 20,
    model: 'm',
    ttlMs: 60_000,
    completion: {
      id: 'c',
      object: 'chat.completion',
      created: 0,
      model: 'm',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'hi', refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
    },
    ...overrides,
  };
}
