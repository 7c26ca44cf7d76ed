import { describe, expect, it } from '@jest/globals';
import { PriceTable } from './pricing.js';

describe('PriceTable', () => {
  const usage = { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 };

  it('prices a dated model snapshot by its family, longest name first', () => {
    const table = new PriceTable();
    expect(table.costUsd('gpt-4o-mini-2024-07-18', usage)).toBeCloseTo(0.75);
    expect(table.costUsd('gpt-4o-2024-08-06', usage)).toBeCloseTo(12.5);
  });

  it('lets configuration override and extend prices; unknown models save nothing', () => {
    const table = new PriceTable({ 'llama3.1': { inputPerMTokUsd: 1, outputPerMTokUsd: 2 } });
    expect(table.costUsd('llama3.1', usage)).toBeCloseTo(3);
    expect(table.costUsd('who-knows', usage)).toBe(0);
    expect(table.costUsd('gpt-4o', undefined)).toBe(0);
  });

  it('rejects a negative or missing price naming the model', () => {
    expect(() => new PriceTable({ bad: { inputPerMTokUsd: -1, outputPerMTokUsd: 1 } })).toThrow(
      /pricing\["bad"\]/,
    );
  });
});
