import OpenAI from 'openai';
import type { LlmProvider } from './llm-provider.interface.js';
import { callerAborted, LlmProviderError, toLlmProviderError } from './llm-provider.error.js';
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
  /**
   * A plain call: the whole request. A stream: opening it and its first chunk, then the longest silence allowed
   * between two chunks (an idle timeout, so a long generation is fine but a stalled upstream is not). Default 60 s.
   */
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
  protected readonly timeoutMs: number;

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
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL,
      // A backstop only: our own Deadline fires first and is what reports a timeout.
      timeout: this.timeoutMs + 1000,
      maxRetries: options.maxRetries ?? 2,
    });
  }

  async complete(req: ChatCompletionRequest, opts: ProviderCallOptions = {}): Promise<ChatCompletion> {
    const deadline = new Deadline(this.timeoutMs, opts.signal);
    try {
      const body = { ...req, stream: false } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
      delete (body as { stream_options?: unknown }).stream_options;
      return await deadline.guard(this.client.chat.completions.create(body, { signal: deadline.signal }));
    } catch (err) {
      throw deadline.map(err);
    } finally {
      deadline.clear();
    }
  }

  async *stream(
    req: ChatCompletionRequest,
    opts: ProviderCallOptions = {},
  ): AsyncGenerator<ChatCompletionChunk> {
    const body = { ...req, stream: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming;
    // The deadline covers opening the stream and its first chunk, then restarts for every chunk: a long generation
    // is legitimate, an upstream that goes silent mid-stream is not (the SDK's own timer stops at the headers).
    const deadline = new Deadline(this.timeoutMs, opts.signal);
    let iterator: AsyncIterator<ChatCompletionChunk> | undefined;
    let finished = false;
    try {
      const stream = await deadline.guard(
        this.client.chat.completions.create(body, { signal: deadline.signal }),
      );
      iterator = stream[Symbol.asyncIterator]();
      let step = await deadline.guard(iterator.next());
      while (!step.done) {
        // Paused while the caller handles the chunk: only the upstream's silence counts.
        deadline.clear();
        yield step.value;
        deadline.restart();
        step = await deadline.guard(iterator.next());
      }
      finished = true;
    } catch (err) {
      finished = true;
      throw deadline.map(err);
    } finally {
      deadline.clear();
      // The caller stopped reading: close the SDK stream, which cancels the HTTP request.
      if (!finished) await iterator?.return?.().catch(() => undefined);
    }
    // The SDK ends an aborted stream silently; the caller must not mistake it for a complete answer.
    if (opts.signal?.aborted) {
      throw callerAborted('stream aborted by the caller');
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

/**
 * Our own timeout beside the SDK's: the SDK recognises its timeout by the realm of the AbortError, which fails
 * under some loaders (Jest's VM modules), and then reports a plain connection error. Knowing that our deadline
 * fired makes a timeout a 504 everywhere.
 */
class Deadline {
  private readonly controller = new AbortController();
  private timer?: NodeJS.Timeout;
  private fired = false;
  private readonly expired: Promise<never>;
  private readonly expire: (err: Error) => void;
  readonly signal: AbortSignal;

  constructor(
    private readonly timeoutMs: number,
    callerSignal?: AbortSignal,
  ) {
    let expire!: (err: Error) => void;
    this.expired = new Promise<never>((_, reject) => (expire = reject));
    this.expired.catch(() => undefined);
    this.expire = expire;
    this.restart();
    this.signal = callerSignal
      ? AbortSignal.any([callerSignal, this.controller.signal])
      : this.controller.signal;
  }

  /** Starts the full `timeoutMs` again (no effect once it fired). */
  restart(): void {
    clearTimeout(this.timer);
    if (this.fired) return;
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort();
      this.expire(new Error('deadline exceeded'));
    }, this.timeoutMs);
  }

  clear(): void {
    clearTimeout(this.timer);
  }

  /** Settles with `promise`, or rejects when the deadline fires even if the SDK has not noticed the abort yet. */
  guard<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => undefined);
    return Promise.race([promise, this.expired]);
  }

  map(err: unknown): LlmProviderError {
    if (this.fired) {
      return new LlmProviderError('upstream timed out', {
        status: 504,
        type: 'timeout',
        code: 'upstream_timeout',
        cause: err,
      });
    }
    return toLlmProviderError(err);
  }
}
