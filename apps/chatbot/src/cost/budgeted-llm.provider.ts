import {
  LlmRequestContext,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type LlmProvider,
  type ProviderCallOptions,
} from '@llm-cache/llm';
import { OPEN_MODE_TENANT } from '../auth/api-key.guard.js';
import type { TokenBudget } from './token-budget.js';

/**
 * The configured provider behind the tenant's token budget. It wraps the provider rather than the routes because
 * only real upstream calls spend tokens: a cache hit never reaches it, and every path that does (a miss, a refresh,
 * a stream, /chat and /v1) goes through here.
 */
export class BudgetedLlmProvider implements LlmProvider {
  readonly name: string;
  readonly identity: string;

  constructor(
    private readonly inner: LlmProvider,
    private readonly budget: TokenBudget,
  ) {
    this.name = inner.name;
    // Same identity as the wrapped provider: wrapping must not change any cache key.
    this.identity = inner.identity;
  }

  async complete(req: ChatCompletionRequest, opts?: ProviderCallOptions): Promise<ChatCompletion> {
    const tenant = currentTenant();
    await this.budget.assertAvailable(tenant);
    const response = await this.inner.complete(req, opts);
    await this.budget.spend(tenant, response.usage?.total_tokens ?? 0);
    return response;
  }

  async *stream(req: ChatCompletionRequest, opts?: ProviderCallOptions): AsyncIterable<ChatCompletionChunk> {
    const tenant = currentTenant();
    await this.budget.assertAvailable(tenant);
    // The cache asks every upstream stream for its usage chunk (stream_options.include_usage).
    for await (const chunk of this.inner.stream(req, opts)) {
      if (chunk.usage?.total_tokens) await this.budget.spend(tenant, chunk.usage.total_tokens);
      yield chunk;
    }
  }

  listModels(): Promise<string[]> {
    return this.inner.listModels();
  }
}

function currentTenant(): string {
  return LlmRequestContext.current()?.tenant ?? OPEN_MODE_TENANT;
}
