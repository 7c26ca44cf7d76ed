import type { ChatbotConfig } from '../config/chatbot.config.js';
import {
  optionalNumber,
  optionalString,
  rejectUnknownFields,
  requireObject,
  requiredString,
} from '../common/validation.js';

/** `POST /chat` body, validated. */
export interface ChatRequest {
  message: string;
  conversationId?: string;
  model?: string;
  temperature?: number;
  max_tokens?: number;
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
    model: optionalString(body, 'model', 256),
    temperature: optionalNumber(body, 'temperature', { min: 0, max: 2 }),
    max_tokens: optionalNumber(body, 'max_tokens', { min: 1, max: 1_000_000, integer: true }),
  };
}
