import { Controller, Delete, Get, Inject, Query, UseGuards } from '@nestjs/common';
import {
  LLM_CACHE_RESOLVED_OPTIONS,
  LlmCacheService,
  tenantSegment,
  type LlmCacheStats,
  type ResolvedLlmCacheOptions,
} from '@llm-cache/llm';
import { RedisCacheService, type RedisInfoSummary } from '@llm-cache/redis-cache';
import { AdminGuard } from '../auth/admin.guard.js';
import { InvalidRequestError } from '../common/api-error.js';
import { TENANT_PATTERN } from '../config/chatbot.config.js';

/** Redis glob, matched under `<prefix>:llm:` (e.g. `v2:acme:*`); no whitespace or control characters. */
const PATTERN = /^[\x21-\x7e]{1,256}$/;
/** A pattern delete stops here and says `complete: false` rather than holding the request for minutes. */
const DEFAULT_DELETE_DEADLINE_MS = 10_000;

export interface CacheDeleteResult {
  deleted: number;
  /** false: the deadline cut the scan; `deleted` is the count so far, run it again to go on. */
  complete: boolean;
  pattern: string;
}

/**
 * Cache administration, behind ADMIN_TOKEN. Only the LLM cache is reachable from here (not conversations). Answers
 * tell the truth: Redis unavailable → 503 with the reason (RedisUnavailableError, mapped by the filter), never zeros.
 */
@Controller('cache')
@UseGuards(AdminGuard)
export class AdminController {
  constructor(
    private readonly llmCache: LlmCacheService,
    private readonly redisCache: RedisCacheService,
    @Inject(LLM_CACHE_RESOLVED_OPTIONS) private readonly llmOptions: ResolvedLlmCacheOptions,
  ) {}

  /** Hit ratio, tokens, dollars and latency saved: shared by every replica through Redis counters. */
  @Get('stats')
  stats(): Promise<LlmCacheStats> {
    return this.llmCache.getCacheStats(undefined, { requireRedis: true });
  }

  /** Redis INFO summary; per-node addresses without the raw INFO (it names config a caller needs not see). */
  @Get('info')
  async info(): Promise<Omit<RedisInfoSummary, 'nodes'> & { nodes: string[] }> {
    const { nodes, ...summary } = await this.redisCache.getCacheInfo({ requireRedis: true });
    return { ...summary, nodes: nodes.map((n) => n.address) };
  }

  /**
   * Deletes LLM entries by an explicit `pattern` (a glob under `<prefix>:llm:`) or every entry of one `tenant`.
   * No parameter is a 400: "delete everything" must be asked for (`pattern=*`), not be what a typo does.
   */
  @Delete()
  async clear(
    @Query('pattern') pattern: unknown,
    @Query('tenant') tenant: unknown,
    @Query('deadlineMs') deadline: unknown,
  ): Promise<CacheDeleteResult> {
    const glob = this.globOf(pattern, tenant);
    const deadlineMs = deadline === undefined ? DEFAULT_DELETE_DEADLINE_MS : Number(deadline);
    if (typeof deadline === 'string' && (!/^\d{1,6}$/.test(deadline) || deadlineMs < 1)) {
      throw new InvalidRequestError('deadlineMs must be an integer from 1 to 999999', 'deadlineMs');
    }
    const { deleted, complete } = await this.llmCache.deleteLlmEntries(glob, { deadlineMs });
    return { deleted, complete, pattern: glob };
  }

  private globOf(pattern: unknown, tenant: unknown): string {
    if (pattern !== undefined && tenant !== undefined) {
      throw new InvalidRequestError('Give either pattern or tenant, not both.', 'pattern');
    }
    if (tenant !== undefined) {
      if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) {
        throw new InvalidRequestError(`tenant must match ${TENANT_PATTERN}`, 'tenant');
      }
      // Exactly this tenant's entries of the current key schema: its key segment, glob characters escaped.
      return `v${this.llmOptions.keySchemaVersion}:${escapeGlob(tenantSegment(tenant))}:*`;
    }
    if (pattern === undefined) {
      throw new InvalidRequestError(
        'Say what to delete: pattern=<glob> (pattern=* for every LLM entry) or tenant=<name>.',
        'pattern',
        'missing_required_parameter',
      );
    }
    if (typeof pattern !== 'string' || !PATTERN.test(pattern)) {
      throw new InvalidRequestError(
        'pattern must be a single Redis glob of 1-256 printable characters without spaces, e.g. pattern=*',
        'pattern',
      );
    }
    return pattern;
  }
}

/** Redis glob specials taken literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
