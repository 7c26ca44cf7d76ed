import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { CacheLlmResponse } from '@llm-cache/llm';
import { ApiKeyGuard, OPEN_MODE_TENANT } from '../auth/api-key.guard.js';
import type { HttpRequest } from '../common/http.types.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import { parseChatRequest } from './chat-request.js';
import { ChatService, type ChatReply } from './chat.service.js';

/** The product card's chatbot: `{ message, conversationId? }` → `{ reply, conversationId, cached, usage }`. */
@Controller('chat')
@UseGuards(ApiKeyGuard)
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  @Post()
  @HttpCode(200)
  @CacheLlmResponse()
  send(@Body() body: unknown, @Req() req: HttpRequest): Promise<ChatReply> {
    return this.chat.chat(req.tenant ?? OPEN_MODE_TENANT, parseChatRequest(body, this.config));
  }
}
