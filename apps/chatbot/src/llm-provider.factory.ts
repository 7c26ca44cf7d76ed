import { MockProvider, OpenAiProvider, type LlmProvider } from '@llm-cache/llm';
import type { ChatbotConfig } from './config/chatbot.config.js';

/** The configured upstream: any OpenAI-compatible base URL, or the built-in mock for a first run. */
export function createLlmProvider(llm: ChatbotConfig['llm']): LlmProvider {
  if (llm.provider === 'mock') return new MockProvider({ latencyMs: llm.mockLatencyMs, model: llm.model });
  return new OpenAiProvider({
    apiKey: llm.apiKey ?? 'not-needed',
    baseURL: llm.baseURL,
    timeoutMs: llm.timeoutMs,
    maxRetries: llm.maxRetries,
  });
}
