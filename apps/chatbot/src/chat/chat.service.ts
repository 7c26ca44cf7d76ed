import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { LlmCacheService, type ChatCompletionRequest, type CompletionUsage } from '@llm-cache/llm';
import { ApiError } from '../common/api-error.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import type { ChatRequest } from './chat-request.js';
import { ConversationStore } from './conversation.store.js';

export interface ChatReply {
  reply: string;
  conversationId: string;
  cached: boolean;
  model: string;
  usage: CompletionUsage | null;
}

/**
 * One chat turn: system prompt + stored history + the new message → one LLM call through the cache. The cached unit
 * is that LLM call (same history and message → same answer), and the turn is appended to the history on hits too,
 * so a conversation reads the same whether its answers came from Redis or from the model.
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly llmCache: LlmCacheService,
    private readonly conversations: ConversationStore,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  async chat(tenant: string, input: ChatRequest): Promise<ChatReply> {
    // Ids are issued here, never chosen by a client: a caller who could pick an id could pre-seed a conversation
    // that another caller of the tenant later continues (conversation fixation).
    const conversationId = input.conversationId ?? randomUUID();
    const conversation = input.conversationId
      ? await this.conversations.load(tenant, conversationId)
      : { messages: [] };
    if (conversation === null) {
      throw new ApiError(
        404,
        `No conversation ${conversationId}: it expired or was never started. Omit conversationId to start one.`,
        'invalid_request_error',
        'conversationId',
        'conversation_not_found',
      );
    }
    const history = conversation.messages;
    const request: ChatCompletionRequest = {
      model: input.model ?? this.config.llm.model,
      messages: [
        { role: 'system', content: this.config.systemPrompt },
        ...history,
        { role: 'user', content: input.message },
      ],
    };
    if (input.temperature !== undefined) request.temperature = input.temperature;
    if (input.max_tokens !== undefined) request.max_tokens = input.max_tokens;

    // Tenant, cache controls, TTL and the abort signal come from the request context the interceptor set up.
    const result = await this.llmCache.generateTextWithCache(request);
    const reply = result.response.choices[0]?.message?.content ?? '';
    // Not the write's answer: only its dispatch (on the Redis connection before the reply leaves, so a next turn
    // sent after the reply is read after it; see ConversationStore).
    await this.conversations.append(tenant, conversationId, history, [
      { role: 'user', content: input.message },
      { role: 'assistant', content: reply },
    ]);
    return {
      reply,
      conversationId,
      cached: result.cached,
      model: result.response.model,
      usage: result.response.usage ?? null,
    };
  }
}
