import { Body, Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { CacheResponse } from '@llm-cache/redis-cache';
import {
  CacheLlmResponse,
  InjectLlmProvider,
  LlmCacheService,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type LlmProvider,
} from '@llm-cache/llm';
import { SharedRefreshGuard } from '../auth/shared-refresh.guard.js';
import { ModelPolicyGuard } from '../cost/model-policy.guard.js';
import { TenantThrottlerGuard } from '../cost/tenant-throttler.guard.js';
import { ApiKeyGuard } from '../auth/api-key.guard.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';

export interface ModelList {
  object: 'list';
  data: Array<{ id: string; object: 'model'; created: number; owned_by: string }>;
}

/**
 * OpenAI-compatible surface: point the official SDK, LangChain.js or the Vercel AI SDK at `<app>/v1` unchanged.
 * Streaming, headers and SSE framing are the LLM cache interceptor's job; the handler only chooses the call.
 */
@Controller('v1')
// Order matters: the tenant first (the throttler counts per tenant), then what the request may cost.
@UseGuards(ApiKeyGuard, TenantThrottlerGuard, ModelPolicyGuard, SharedRefreshGuard)
export class OpenAiController {
  constructor(
    private readonly llmCache: LlmCacheService,
    @InjectLlmProvider() private readonly provider: LlmProvider,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  @Post('chat/completions')
  @HttpCode(200)
  @CacheLlmResponse()
  async completions(@Body() body: unknown): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    // Validated once, by LlmCacheService with the module's limits (a bad body is a 400 before any upstream call);
    // a `stream` that is not `true` takes the non-streaming path, where the validator rejects a non-boolean.
    const request = body as ChatCompletionRequest;
    return (request as { stream?: unknown } | null)?.stream === true
      ? (await this.llmCache.streamTextWithCache(request)).stream
      : (await this.llmCache.generateTextWithCache(request)).response;
  }

  // The same list for every tenant, and it rarely changes: no upstream round trip per call. With an allow-list
  // (the default: LLM_MODEL alone) exactly the models a request may name; with LLM_ALLOWED_MODELS=* the upstream's.
  @Get('models')
  @CacheResponse({ ttlMs: 60_000 })
  async models(): Promise<ModelList> {
    const allowed = this.config.costGuard.allowedModels;
    const ids = allowed ?? [this.config.llm.model, ...(await this.provider.listModels())];
    return {
      object: 'list',
      data: [...new Set(ids)].map((id) => ({
        id,
        object: 'model',
        created: 0,
        owned_by: this.provider.name,
      })),
    };
  }
}
