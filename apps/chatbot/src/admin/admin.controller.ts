import { Controller, Delete, Get, Query, UseGuards } from '@nestjs/common';
import { LlmCacheService, type LlmCacheStats } from '@llm-cache/llm';
import { RedisCacheService, type RedisInfoSummary } from '@llm-cache/redis-cache';
import { AdminGuard } from '../auth/admin.guard.js';
import { InvalidRequestError } from '../common/api-error.js';

/** Redis glob, matched under `<prefix>:llm:` (e.g. `v1:acme:*`); no whitespace or control characters. */
const PATTERN = /^[\x21-\x7e]{1,256}$/;

/** Cache administration, behind ADMIN_TOKEN. Only the LLM cache is reachable from here (not conversations). */
@Controller('cache')
@UseGuards(AdminGuard)
export class AdminController {
  constructor(
    private readonly llmCache: LlmCacheService,
    private readonly redisCache: RedisCacheService,
  ) {}

  /** Hit ratio, tokens, dollars and latency saved: shared by every replica through Redis counters. */
  @Get('stats')
  stats(): Promise<LlmCacheStats> {
    return this.llmCache.getCacheStats();
  }

  /** Redis INFO summary; per-node addresses without the raw INFO (it names config a caller needs not see). */
  @Get('info')
  async info(): Promise<Omit<RedisInfoSummary, 'nodes'> & { nodes: string[] }> {
    const { nodes, ...summary } = await this.redisCache.getCacheInfo();
    return { ...summary, nodes: nodes.map((n) => n.address) };
  }

  @Delete()
  async clear(@Query('pattern') pattern: unknown = '*'): Promise<{ deleted: number; pattern: string }> {
    if (typeof pattern !== 'string' || !PATTERN.test(pattern)) {
      throw new InvalidRequestError(
        'pattern must be a single Redis glob of 1-256 printable characters without spaces, e.g. pattern=*',
        'pattern',
      );
    }
    return { deleted: await this.llmCache.clearLlmCache(pattern), pattern };
  }
}
