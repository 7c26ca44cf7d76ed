import type { ChatCompletionRequest } from '@llm-cache/llm';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { optionalString, rejectUnknownFields, requireObject, requiredString } from '../common/validation.js';

/** `POST /chat` body: its own fields validated; the completion parameters are checked with the LLM call. */
export interface ChatRequest {
  message: string;
  conversationId?: string;
  /**
   * Completion parameters as given (null → absent). Not checked here: they become fields of the chat-completion
   * request, which LlmCacheService validates once with the same rules and limits as `/v1/chat/completions`.
   */
  model?: ChatCompletionRequest['model'];
  temperature?: ChatCompletionRequest['temperature'];
  max_tokens?: ChatCompletionRequest['max_tokens'];
}

const FIELDS = ['message', 'conversationId', 'model', 'temperature', 'max_tokens'] as const;
/** Conversation ids become part of a Redis key: a bounded, key-safe alphabet. */
export const CONVERSATION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Strict on purpose (unknown fields are rejected): a typo such as `temprature` would otherwise be silently ignored.
 * The `cache` controls were already taken off the body by the LLM cache interceptor.
 */
export function parseChatRequest(raw: unknown, config: ChatbotConfig): ChatRequest {
  const body = requireObject(raw);
  rejectUnknownFields(body, FIELDS);
  return {
    message: requiredString(body, 'message', config.maxMessageChars),
    conversationId: optionalString(body, 'conversationId', 64, CONVERSATION_ID_PATTERN),
    model: passThrough(body.model) as ChatRequest['model'],
    temperature: passThrough(body.temperature) as ChatRequest['temperature'],
    max_tokens: passThrough(body.max_tokens) as ChatRequest['max_tokens'],
  };
}

function passThrough(value: unknown): unknown {
  return value === null ? undefined : value;
}
