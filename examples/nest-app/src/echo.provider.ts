import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, LlmProvider } from '@llm-cache/llm';

/**
 * The app's own provider: answers with the last user message, reversed, and counts its calls (so a cache hit can
 * be told apart from a second generation). A real app would wrap its LLM client the same way.
 */
export class EchoProvider implements LlmProvider {
  readonly name = 'echo';
  readonly identity = 'echo:local';
  calls = 0;

  constructor(private readonly model: string) {}

  async complete(req: ChatCompletionRequest): Promise<ChatCompletion> {
    this.calls++;
    return {
      id: `echo-${this.calls}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: req.model || this.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: this.answer(req), refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
    };
  }

  async *stream(req: ChatCompletionRequest): AsyncIterable<ChatCompletionChunk> {
    this.calls++;
    const base = {
      id: `echo-${this.calls}`,
      object: 'chat.completion.chunk' as const,
      created: Math.floor(Date.now() / 1000),
      model: req.model || this.model,
    };
    yield {
      ...base,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    };
    for (const word of this.answer(req).split(/(?<= )/)) {
      yield { ...base, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] };
    }
    yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] };
  }

  async listModels(): Promise<string[]> {
    return [this.model];
  }

  private answer(req: ChatCompletionRequest): string {
    const last = [...req.messages].reverse().find((m) => m.role === 'user');
    const text = typeof last?.content === 'string' ? last.content : '';
    return `echo: ${[...text].reverse().join('')}`;
  }
}
