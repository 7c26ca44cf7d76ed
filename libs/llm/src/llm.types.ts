import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';

// The response shapes are the official SDK's, so whatever the SDK accepts from OpenAI it accepts from us.
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  CompletionUsage,
};

/**
 * An OpenAI chat-completions request as it arrives from a client. Typed loosely on purpose: unknown fields pass
 * through to the provider and into the cache key (a field we do not know may still change the answer).
 */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatCompletionMessageParam[];
  tools?: ChatCompletionTool[];
  tool_choice?: unknown;
  response_format?: unknown;
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  logit_bias?: Record<string, number> | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  user?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  [field: string]: unknown;
}

/** Per-call options of a provider. */
export interface ProviderCallOptions {
  signal?: AbortSignal;
}
