import { Body, Controller, Get, Post } from '@nestjs/common';
import {
  CacheLlmResponse,
  InjectLlmProvider,
  LlmCacheService,
  validateChatCompletionRequest,
  type ChatCompletion,
  type ChatCompletionChunk,
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
  async completions(@Body() body: unknown): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const request = validateChatCompletionRequest(body);
    return request.stream
      ? (await this.llmCache.streamTextWithCache(request)).stream
      : (await this.llmCache.generateTextWithCache(request)).response;
  }

  /** How many times the provider was really called. */
  @Get('provider-calls')
  calls(): { calls: number } {
    return { calls: (this.provider as EchoProvider).calls };
  }
}
