import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { CacheLlmResponse } from '@llm-cache/llm';
import { SharedRefreshGuard } from '../auth/shared-refresh.guard.js';
import { ModelPolicyGuard } from '../cost/model-policy.guard.js';
import { TenantThrottlerGuard } from '../cost/tenant-throttler.guard.js';
import { ApiKeyGuard, OPEN_MODE_TENANT } from '../auth/api-key.guard.js';
import type { HttpRequest } from '../common/http.types.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import { parseChatRequest } from './chat-request.js';
import { ChatService, type ChatReply } from './chat.service.js';

/** The product card's chatbot: `{ message, conversationId? }` → `{ reply, conversationId, cached, usage }`. */
@Controller('chat')
// Order matters: the tenant first (the throttler counts per tenant), then what the request may cost.
@UseGuards(ApiKeyGuard, TenantThrottlerGuard, ModelPolicyGuard, SharedRefreshGuard)
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
