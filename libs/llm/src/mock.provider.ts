import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { LlmProvider } from './llm-provider.interface.js';
import { sleep } from './abortable.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ProviderCallOptions,
} from './llm.types.js';

export interface MockProviderOptions {
  /** Time to the first token; a stream spreads another `latencyMs` over its chunks. Real models: 0.3–3 s. */
  latencyMs?: number;
  /** Reported model name; always contains "mock" so a mock answer is never mistaken for a real one. */
  model?: string;
}

/**
 * A provider for a first run without an API key: deterministic answers (same request → same text), simulated
 * latency and token usage, streams. It says what it is, in the log and in every response's `model`.
 */
export class MockProvider implements LlmProvider {
  readonly name = 'mock';
  readonly identity = 'mock:local';
  readonly latencyMs: number;
  readonly model: string;
  protected readonly logger = new Logger('MockProvider');

  constructor(options: MockProviderOptions = {}) {
    this.latencyMs = Math.max(0, options.latencyMs ?? 300);
    const model = options.model ?? 'mock-gpt';
    this.model = /mock/i.test(model) ? model : `mock-${model}`;
    this.logger.warn(
      `MockProvider in use (model "${this.model}"): answers are canned, not from a real LLM. Set an API key for real answers.`,
    );
  }

  async complete(req: ChatCompletionRequest, opts: ProviderCallOptions = {}): Promise<ChatCompletion> {
    await sleep(this.latencyMs, opts.signal);
    const { id, created, text, toolCall, usage } = this.answer(req);
    return {
      id,
      object: 'chat.completion',
      created,
      model: this.model,
      choices: [
        {
          index: 0,
          message: toolCall
            ? { role: 'assistant', content: null, refusal: null, tool_calls: [toolCall] }
            : { role: 'assistant', content: text, refusal: null },
          logprobs: null,
          finish_reason: toolCall ? 'tool_calls' : 'stop',
        },
      ],
      usage,
    };
  }

  async *stream(
    req: ChatCompletionRequest,
    opts: ProviderCallOptions = {},
  ): AsyncGenerator<ChatCompletionChunk> {
    await sleep(this.latencyMs, opts.signal);
    const { id, created, text, toolCall, usage } = this.answer(req);
    const base = { id, object: 'chat.completion.chunk' as const, created, model: this.model };
    const pieces = toolCall ? [] : (text.match(/\S+\s*/g) ?? [text]);
    const perChunkMs = pieces.length ? this.latencyMs / pieces.length : 0;
    yield {
      ...base,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    };
    if (toolCall) {
      yield {
        ...base,
        choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...toolCall }] }, finish_reason: null }],
      };
    }
    for (const piece of pieces) {
      await sleep(perChunkMs, opts.signal);
      yield { ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] };
    }
    yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: toolCall ? 'tool_calls' : 'stop' }] };
    if (req.stream_options?.include_usage) yield { ...base, choices: [], usage };
  }

  async listModels(): Promise<string[]> {
    return [this.model];
  }

  protected answer(req: ChatCompletionRequest) {
    // Same answer whether it is streamed or not, like a real model at temperature 0.
    const { stream: _stream, stream_options: _options, ...material } = req;
    const digest = createHash('sha256').update(JSON.stringify(material)).digest('hex');
    const last = [...(req.messages ?? [])].reverse().find((m) => m.role === 'user');
    const said = typeof last?.content === 'string' ? last.content.slice(0, 80) : 'your message';
    const text = `[mock] You said: "${said}". This is a canned answer (${digest.slice(0, 8)}) from the mock provider.`;
    const tool = req.tools?.[0];
    const wantsTool =
      tool && tool.type === 'function' && req.tool_choice !== 'none' && req.tool_choice !== undefined;
    const toolCall = wantsTool
      ? {
          id: `call_${digest.slice(0, 12)}`,
          type: 'function' as const,
          function: { name: tool.function.name, arguments: '{}' },
        }
      : undefined;
    const promptTokens = Math.max(1, Math.ceil(JSON.stringify(req.messages ?? []).length / 4));
    const completionTokens = toolCall ? 8 : Math.max(1, Math.ceil(text.length / 4));
    return {
      id: `chatcmpl-mock-${digest.slice(0, 20)}`,
      created: Math.floor(Date.now() / 1000),
      text,
      toolCall,
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    };
  }
}
