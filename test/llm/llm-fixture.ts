import { Test, type TestingModule } from '@nestjs/testing';
import { RedisCacheModule, RedisCacheService, type RedisCacheModuleOptions } from '@llm-cache/redis-cache';
import { LlmCacheModule, LlmCacheService, OpenAiProvider, type LlmCacheModuleOptions } from '@llm-cache/llm';
import type { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LlmFixture {
  module: TestingModule;
  llm: LlmCacheService;
  cache: RedisCacheService;
  provider: OpenAiProvider;
  close(): Promise<void>;
}

/** One "process": its own Redis client, its own LlmCacheService (own in-flight map), the real openai SDK. */
export async function createLlmFixture(
  upstream: FakeOpenAiServer,
  redis: RedisCacheModuleOptions,
  llm: LlmCacheModuleOptions = {},
): Promise<LlmFixture> {
  const provider = new OpenAiProvider({
    apiKey: 'test-key',
    baseURL: upstream.baseURL,
    maxRetries: 0,
    timeoutMs: 10_000,
  });
  const module = await Test.createTestingModule({
    imports: [
      // A generous command timeout unless a spec sets its own (the fail-open specs do): on the loaded 2-core CI
      // machine the 50 ms default turns a lock SET into a (correct, fail-open) "unavailable", and a coalescing spec
      // about something else then sees two leaders.
      RedisCacheModule.forRoot({
        isGlobal: true,
        statsFlushIntervalMs: 60_000,
        commandTimeoutMs: 1000,
        ...redis,
      }),
      LlmCacheModule.forRoot({ provider, ...llm }),
    ],
  }).compile();
  await module.init();
  return {
    module,
    llm: module.get(LlmCacheService),
    cache: module.get(RedisCacheService),
    provider,
    close: () => module.close(),
  };
}

export function chat(content: string, extra: Record<string, unknown> = {}) {
  return { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], ...extra };
}

export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

/** `promise`, or a rejection once `ms` pass: a test of a hang fails in bounded time instead of at Jest's timeout. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export { sleep };
