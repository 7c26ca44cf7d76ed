import type { CompletionUsage } from './llm.types.js';

export interface ModelPrice {
  inputPerMTokUsd: number;
  outputPerMTokUsd: number;
}

/**
 * List prices (USD per million tokens) used to estimate what a cache hit saved. Estimates only: override or extend
 * with the `pricing` option; an unknown model saves $0 rather than a guess.
 */
export const DEFAULT_PRICING: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o': { inputPerMTokUsd: 2.5, outputPerMTokUsd: 10 },
  'gpt-4o-mini': { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 },
  'gpt-4.1': { inputPerMTokUsd: 2, outputPerMTokUsd: 8 },
  'gpt-4.1-mini': { inputPerMTokUsd: 0.4, outputPerMTokUsd: 1.6 },
  'gpt-4.1-nano': { inputPerMTokUsd: 0.1, outputPerMTokUsd: 0.4 },
  'gpt-3.5-turbo': { inputPerMTokUsd: 0.5, outputPerMTokUsd: 1.5 },
  o3: { inputPerMTokUsd: 2, outputPerMTokUsd: 8 },
  'o4-mini': { inputPerMTokUsd: 1.1, outputPerMTokUsd: 4.4 },
};

export class PriceTable {
  private readonly prices: Map<string, ModelPrice>;
  /** Longest names first, so `gpt-4o-mini-2024-07-18` matches `gpt-4o-mini` before `gpt-4o`. */
  private readonly byLength: string[];

  constructor(overrides: Record<string, ModelPrice> = {}) {
    for (const [model, price] of Object.entries(overrides)) {
      if (!(price?.inputPerMTokUsd >= 0) || !(price?.outputPerMTokUsd >= 0)) {
        throw new Error(
          `LlmCacheModule: pricing["${model}"] needs non-negative inputPerMTokUsd and outputPerMTokUsd`,
        );
      }
    }
    this.prices = new Map(Object.entries({ ...DEFAULT_PRICING, ...overrides }));
    this.byLength = [...this.prices.keys()].sort((a, b) => b.length - a.length);
  }

  priceOf(model: string): ModelPrice | undefined {
    const exact = this.prices.get(model);
    if (exact) return exact;
    const prefix = this.byLength.find((name) => model.startsWith(`${name}-`));
    return prefix ? this.prices.get(prefix) : undefined;
  }

  /** What the provider would have charged for this usage; 0 for unknown models or missing usage. */
  costUsd(model: string, usage: CompletionUsage | null | undefined): number {
    const price = this.priceOf(model);
    if (!price || !usage) return 0;
    return (
      (usage.prompt_tokens * price.inputPerMTokUsd + usage.completion_tokens * price.outputPerMTokUsd) /
      1_000_000
    );
  }
}
