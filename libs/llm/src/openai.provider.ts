import OpenAI from 'openai';
import type { LlmProvider } from './llm-provider.interface.js';
import { LlmProviderError, toLlmProviderError } from './llm-provider.error.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ProviderCallOptions,
} from './llm.types.js';

export interface OpenAiProviderOptions {
  apiKey: string;
  /** Any OpenAI-compatible endpoint: OpenAI, Azure-compatible gateways, Ollama, vLLM, llama.cpp server. */
  baseURL?: string;
  /** Per request, including the whole streamed body. */
  timeoutMs?: number;
  /** SDK retries on 408/409/429/5xx and connection errors. */
  maxRetries?: number;
}

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** The official `openai` SDK behind the `LlmProvider` contract, with every failure mapped to `LlmProviderError`. */
export class OpenAiProvider implements LlmProvider {
  readonly name = 'openai';
  readonly identity: string;
  protected readonly client: OpenAI;

  constructor(options: OpenAiProviderOptions) {
    if (!options || typeof options.apiKey !== 'string' || options.apiKey.length === 0) {
      throw new Error('OpenAiProvider: apiKey is required (set LLM_API_KEY or OPENAI_API_KEY)');
    }
    const baseURL = (options.baseURL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    try {
      new URL(baseURL);
    } catch {
      throw new Error(`OpenAiProvider: baseURL is not a URL: ${baseURL}`);
    }
    this.identity = `${this.name}:${baseURL}`;
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL,
      timeout: options.timeoutMs ?? 60_000,
      maxRetries: options.maxRetries ?? 2,
    });
  }

  async complete(req: ChatCompletionRequest, opts: ProviderCallOptions = {}): Promise<ChatCompletion> {
    try {
      const body = { ...req, stream: false } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
      delete (body as { stream_options?: unknown }).stream_options;
      return await this.client.chat.completions.create(body, { signal: opts.signal });
    } catch (err) {
      throw toLlmProviderError(err);
    }
  }

  async *stream(
    req: ChatCompletionRequest,
    opts: ProviderCallOptions = {},
  ): AsyncGenerator<ChatCompletionChunk> {
    const body = { ...req, stream: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming;
    let stream: AsyncIterable<ChatCompletionChunk>;
    try {
      stream = await this.client.chat.completions.create(body, { signal: opts.signal });
    } catch (err) {
      throw toLlmProviderError(err);
    }
    try {
      for await (const chunk of stream) yield chunk;
    } catch (err) {
      throw toLlmProviderError(err);
    }
    // The SDK ends an aborted stream silently; the caller must not mistake it for a complete answer.
    if (opts.signal?.aborted) {
      throw new LlmProviderError('stream aborted by the caller', { status: 408, type: 'aborted' });
    }
  }

  async listModels(): Promise<string[]> {
    try {
      const ids: string[] = [];
      for await (const model of this.client.models.list()) ids.push(model.id);
      return ids;
    } catch (err) {
      throw toLlmProviderError(err);
    }
  }
}
