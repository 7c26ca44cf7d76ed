import { Injectable } from '@nestjs/common';
import { RedisCacheService } from '@llm-cache/redis-cache';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';

export interface ConversationMessage {
  role: 'user' | 'assistant';
  content: string;
}

interface StoredConversation {
  messages: ConversationMessage[];
  updatedAtMs: number;
}

/**
 * Conversation history in Redis under `<prefix>:conv:<tenant>:<id>` (outside `llm:*`, so clearing the LLM cache
 * never loses a conversation). Bounded in length (oldest turns dropped) and in time (TTL refreshed on every turn).
 * Fail-open like the cache: with Redis down a turn is answered without its history rather than failed.
 */
@Injectable()
export class ConversationStore {
  constructor(
    private readonly cache: RedisCacheService,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  /**
   * The history of a conversation of this tenant; null when it does not exist (unknown, expired, another tenant's).
   * When Redis cannot tell (down), an empty history: the turn is answered without it (fail-open).
   */
  async load(tenant: string, conversationId: string): Promise<ConversationMessage[] | null> {
    const key = this.key(tenant, conversationId);
    const stored = await this.cache.get<StoredConversation>(key);
    if (Array.isArray(stored?.messages)) return stored.messages;
    // A miss and a failed read look alike: one more round trip, on misses only, tells them apart.
    return (await this.cache.exists(key)) === false ? null : [];
  }

  /** Appends messages and keeps the newest `CONVERSATION_MAX_MESSAGES`. Resolves false if it could not be saved. */
  async append(
    tenant: string,
    conversationId: string,
    history: ConversationMessage[],
    added: ConversationMessage[],
  ) {
    const { maxMessages, ttlMs } = this.config.conversation;
    let messages = [...history, ...added].slice(-maxMessages);
    // Never start the window on an assistant turn: the model would see an answer without its question.
    if (messages[0]?.role === 'assistant') messages = messages.slice(1);
    const value: StoredConversation = { messages, updatedAtMs: Date.now() };
    return this.cache.set(this.key(tenant, conversationId), value, { ttlMs });
  }

  private key(tenant: string, conversationId: string): string {
    return `conv:${tenant}:${conversationId}`;
  }
}
