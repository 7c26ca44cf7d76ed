import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { CacheResponse, RedisCacheService } from '@llm-cache/redis-cache';

@Controller()
export class ItemsController {
  private computed = 0;

  constructor(private readonly cache: RedisCacheService) {}

  /** An expensive answer: computed once per id, then served from Redis (X-Cache: HIT) for a minute. */
  @Get('items/:id')
  @CacheResponse({ ttlMs: 60_000 })
  item(@Param('id') id: string): { id: string; computed: number } {
    return { id, computed: ++this.computed };
  }

  /** The service directly: fail-open, so with Redis down a write reports `stored: false` instead of failing. */
  @Put('notes/:id')
  async putNote(@Param('id') id: string, @Body() body: { text: string }): Promise<{ stored: boolean }> {
    return { stored: await this.cache.set(`note:${id}`, body, { ttlMs: 60_000 }) };
  }

  @Get('notes/:id')
  async getNote(@Param('id') id: string): Promise<{ note: { text: string } | null }> {
    return { note: (await this.cache.get<{ text: string }>(`note:${id}`)) ?? null };
  }
}
