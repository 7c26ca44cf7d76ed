import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import {
  LlmCacheService,
  type ChatCompletionRequest,
  type CompletionUsage,
  type PrefetchedEntry,
} from '@llm-cache/llm';
import { ApiError } from '../common/api-error.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import type { ChatRequest } from './chat-request.js';
import { ConversationStore, type ConversationMessage } from './conversation.store.js';

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
    const { history, prefetched } = input.conversationId
      ? await this.readConversation(tenant, conversationId, input)
      : { history: [], prefetched: undefined };
    const request = this.completionRequest(input, history);

    // Tenant, cache controls, TTL and the abort signal come from the request context the interceptor set up.
    const result = await this.llmCache.generateTextWithCache(
      request,
      undefined,
      prefetched ? { prefetched } : undefined,
    );
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

  /**
   * The stored history of a continued conversation, or 404. When this process knows the conversation's last revision,
   * the turn's cache key is computed from that history and the entry is read in the same round trip as the
   * conversation (one MGET); it is used only if Redis still holds that very revision (another replica may have added
   * a turn), otherwise the turn goes the ordinary way with the history Redis returned.
   */
  private async readConversation(
    tenant: string,
    conversationId: string,
    input: ChatRequest,
  ): Promise<{ history: ConversationMessage[]; prefetched?: PrefetchedEntry }> {
    const recent = await this.conversations.recentHistory(tenant, conversationId);
    const key = recent && this.cacheKeyOf(this.completionRequest(input, recent.messages));
    if (!recent || !key) {
      const conversation = await this.conversations.load(tenant, conversationId);
      if (!conversation) throw notFound(conversationId);
      return { history: conversation.messages };
    }
    const { conversation, other } = await this.conversations.loadWith(tenant, conversationId, key);
    if (!conversation) throw notFound(conversationId);
    if (conversation.rev !== recent.rev) return { history: conversation.messages };
    return { history: conversation.messages, prefetched: { key, value: other } };
  }

  /** The turn's key, or undefined when it has none (bypass) or the request is refused: then the ordinary path says why. */
  private cacheKeyOf(request: ChatCompletionRequest): string | undefined {
    try {
      return this.llmCache.cacheKeyFor(request);
    } catch {
      return undefined;
    }
  }

  private completionRequest(input: ChatRequest, history: ConversationMessage[]): ChatCompletionRequest {
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
    return request;
  }
}

function notFound(conversationId: string): ApiError {
  return new ApiError(
    404,
    `No conversation ${conversationId}: it expired or was never started. Omit conversationId to start one.`,
    'invalid_request_error',
    'conversationId',
    'conversation_not_found',
  );
}
