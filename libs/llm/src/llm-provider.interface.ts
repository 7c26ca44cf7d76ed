import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ProviderCallOptions,
} from './llm.types.js';

/** An OpenAI-compatible chat backend. Implementations map every failure to `LlmProviderError`. */
export interface LlmProvider {
  readonly name: string;
  /** provider + base URL, part of every cache key (two upstreams never share an entry). */
  readonly identity: string;
  complete(req: ChatCompletionRequest, opts?: ProviderCallOptions): Promise<ChatCompletion>;
  /** Chunks as the upstream sends them; ends cleanly only after the upstream's `[DONE]`. */
  stream(req: ChatCompletionRequest, opts?: ProviderCallOptions): AsyncIterable<ChatCompletionChunk>;
  listModels(): Promise<string[]>;
}
