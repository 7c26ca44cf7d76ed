import { Body, Controller, Get, Post } from '@nestjs/common';
import {
  CacheLlmResponse,
  InjectLlmProvider,
  LlmCacheService,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type LlmProvider,
} from '@llm-cache/llm';
import type { EchoProvider } from './echo.provider.js';

@Controller()
export class ChatController {
  constructor(
    private readonly llmCache: LlmCacheService,
    @InjectLlmProvider() private readonly provider: LlmProvider,
  ) {}

  /** OpenAI-compatible: JSON, or server-sent events with `"stream": true`; X-Cache / Cache-Status / Age headers. */
  @Post('v1/chat/completions')
  @CacheLlmResponse({ ttlMs: 60_000 })
  async completions(
    @Body() body: ChatCompletionRequest,
  ): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    // The service validates the body (a bad one is a 400 naming the field, rendered by HttpStatusErrorFilter).
    return body?.stream === true
      ? (await this.llmCache.streamTextWithCache(body)).stream
      : (await this.llmCache.generateTextWithCache(body)).response;
  }

  /** How many times the provider was really called. */
  @Get('provider-calls')
  calls(): { calls: number } {
    return { calls: (this.provider as EchoProvider).calls };
  }
}
