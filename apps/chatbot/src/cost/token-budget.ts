import { Injectable } from '@nestjs/common';
import { LlmProviderError } from '@llm-cache/llm';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import { rateLimitHeaders, retryAfterHeader } from './rate-limit-headers.js';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';

/** The day's budget is spent: a 429 the exception filter renders with OpenAI's `-tokens` headers. */
export class TokenBudgetExceededError extends LlmProviderError {
  constructor(
    limit: number,
    used: number,
    resetInMs: number,
    readonly responseHeaders: Record<string, string> = {
      ...retryAfterHeader(resetInMs),
      ...rateLimitHeaders('tokens', limit, limit - used, resetInMs),
    },
  ) {
    super(
      `Token budget of this API key reached: ${used} of ${limit} upstream tokens used today (UTC). ` +
        'Cached answers are still served; new generations resume at 00:00 UTC.',
      { status: 429, type: 'tokens', code: 'rate_limit_exceeded' },
    );
  }
}

/**
 * `TOKEN_BUDGET_PER_DAY`: upstream tokens per tenant per UTC day, counted in Redis (shared by every replica). Only
 * provider calls spend it (the provider is wrapped, see BudgetedLlmProvider), so cache hits cost nothing. A call is
 * refused once the day's total has reached the budget; calls already running may overshoot it by their own size.
 */
@Injectable()
export class TokenBudget {
  constructor(
    private readonly counters: RedisThrottlerStorage,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  get enabled(): boolean {
    return this.config.costGuard.tokensPerDay !== undefined;
  }

  /** Throws TokenBudgetExceededError when the tenant has nothing left today. */
  async assertAvailable(tenant: string, nowMs = Date.now()): Promise<void> {
    const limit = this.config.costGuard.tokensPerDay;
    if (limit === undefined) return;
    const { total, resetInMs } = await this.counters.add(this.key(tenant, nowMs), 0, msToUtcMidnight(nowMs));
    if (total >= limit) throw new TokenBudgetExceededError(limit, total, resetInMs);
  }

  /** Adds an upstream call's tokens to the tenant's day. */
  async spend(tenant: string, tokens: number, nowMs = Date.now()): Promise<void> {
    if (!this.enabled || !(tokens > 0)) return;
    await this.counters.add(this.key(tenant, nowMs), Math.round(tokens), msToUtcMidnight(nowMs));
  }

  private key(tenant: string, nowMs: number): string {
    // `{tenant}` is a cluster hash tag; the date makes each day its own window.
    return `ratelimit:{${tenant}}:tokens:${new Date(nowMs).toISOString().slice(0, 10)}`;
  }
}

function msToUtcMidnight(nowMs: number): number {
  const d = new Date(nowMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - nowMs;
}
