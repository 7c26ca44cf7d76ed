import type { ChatCompletionRequest } from './llm.types.js';

/**
 * `always` (the seed's behaviour): any request is cached, so a sampled answer is replayed as "the" answer.
 * `deterministic-only`: only requests whose answer is meant to repeat — temperature 0 or a fixed seed.
 */
export type DeterminismPolicy = 'always' | 'deterministic-only';

/** Whether a request (with defaults applied) may be served from and stored in the cache under a policy. */
export function isCacheableUnder(policy: DeterminismPolicy, request: ChatCompletionRequest): boolean {
  if (policy === 'always') return true;
  const temperature = request.temperature ?? 1;
  return temperature === 0 || typeof request.seed === 'number';
}
