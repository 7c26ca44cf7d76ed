import { Controller, Get, Header, Req, UseGuards } from '@nestjs/common';
import { LlmCacheService, type LlmCacheStats } from '@llm-cache/llm';
import { ApiKeyGuard, OPEN_MODE_TENANT } from '../auth/api-key.guard.js';
import type { HttpRequest } from '../common/http.types.js';

export interface TenantCacheStats extends LlmCacheStats {
  tenant: string;
}

/**
 * The caller's own cache figures (hits, misses, hit ratio, tokens and dollars saved). The tenant comes from the API
 * key, never from the request, so a tenant sees only its numbers; every tenant's together stay at `/cache/stats`.
 */
@Controller('chat')
@UseGuards(ApiKeyGuard)
export class ChatStatsController {
  constructor(private readonly llmCache: LlmCacheService) {}

  @Get('stats')
  @Header('Cache-Control', 'no-store')
  async stats(@Req() req: HttpRequest): Promise<TenantCacheStats> {
    const tenant = req.tenant ?? OPEN_MODE_TENANT;
    return { tenant, ...(await this.llmCache.getCacheStats(tenant)) };
  }
}
