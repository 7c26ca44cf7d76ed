import { type ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { setResponseHeaders } from '@llm-cache/redis-cache';
import { OPEN_MODE_TENANT } from '../auth/api-key.guard.js';
import { ApiError } from '../common/api-error.js';
import type { HttpRequest } from '../common/http.types.js';
import { formatResetDuration, rateLimitHeaders, retryAfterHeader } from './rate-limit-headers.js';

/** The throttler's name: it becomes the header suffix (`x-ratelimit-limit-requests`, as OpenAI spells it). */
export const REQUESTS_THROTTLER = 'requests';

/**
 * `RATE_LIMIT_RPM` per tenant (not per IP, not per route): runs after ApiKeyGuard, counts every chat request of a
 * tenant in one window shared by all routes and replicas, and answers over-limit requests with OpenAI's 429.
 */
@Injectable()
export class TenantThrottlerGuard extends ThrottlerGuard {
  protected override logger = new Logger('RateLimit');

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    return (req as unknown as HttpRequest).tenant ?? OPEN_MODE_TENANT;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `ratelimit:{${tracker}}:${name}`;
  }

  /** The throttler's `X-RateLimit-Limit-requests`… → OpenAI's lower-case names and duration format. */
  protected override setResponseHeader(
    res: Record<string, unknown>,
    name: string,
    value: string | number,
  ): void {
    const header = /^X-RateLimit-(Limit|Remaining|Reset)-(.+)$/.exec(name);
    // Through the shared helper: `res` is a Node response on Express, a reply on Fastify.
    if (!header) return setResponseHeaders(res, { [name.replace(/-requests$/, '')]: String(value) });
    const field = header[1].toLowerCase();
    const formatted = field === 'reset' ? formatResetDuration(Number(value) * 1000) : String(value);
    setResponseHeaders(res, { [`x-ratelimit-${field}-${header[2]}`]: formatted });
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const resetInMs = detail.timeToBlockExpire * 1000;
    // The first refusal of a window only: one line per tenant per minute and replica, however hard it pushes.
    if (detail.totalHits === detail.limit + 1) {
      this.logger.warn(
        `tenant ${detail.tracker} reached RATE_LIMIT_RPM=${detail.limit}; refused until the window resets in ` +
          formatResetDuration(resetInMs),
      );
    }
    throw new ApiError(
      429,
      `Rate limit reached for this API key: ${detail.limit} requests per minute. ` +
        `Please try again in ${formatResetDuration(resetInMs)}.`,
      REQUESTS_THROTTLER,
      null,
      'rate_limit_exceeded',
    ).withHeaders({
      ...retryAfterHeader(resetInMs),
      ...rateLimitHeaders(REQUESTS_THROTTLER, detail.limit, 0, resetInMs),
    });
  }
}
