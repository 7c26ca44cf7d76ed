import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { RedisCacheModule } from '@llm-cache/redis-cache';
import { CacheKeyPolicy } from './cache-key.policy.js';
import { LlmCallCoordinator } from './llm-call.coordinator.js';
import { LlmCacheModule } from './llm-cache.module.js';
import { LlmCacheService } from './llm-cache.service.js';
import type { LlmCacheModuleExtras } from './llm-cache.interfaces.js';
import { LlmUpstream } from './llm-upstream.js';
import { MockProvider } from './mock.provider.js';
import { RequestCoalescer } from './request-coalescer.js';

/** A user's coalescer: the default behaviour, plus a record of the keys it led. */
@Injectable()
class RecordingCoalescer<T> extends RequestCoalescer<T> {
  readonly led: string[] = [];
  override lead(key: string) {
    this.led.push(key);
    return super.lead(key);
  }
}

async function start(extra: Pick<LlmCacheModuleExtras, 'providers'> = {}) {
  const module = await Test.createTestingModule({
    imports: [
      // No Redis address: the in-memory store, enough to exercise the module's wiring.
      RedisCacheModule.forRoot({ isGlobal: true, statsFlushIntervalMs: 60_000 }),
      LlmCacheModule.forRoot({ provider: new MockProvider(), ...extra }),
    ],
  }).compile();
  await module.init();
  return module;
}

const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'roles' }] };

describe('LlmCacheModule roles as providers', () => {
  it('builds LlmCacheService from the module providers: one coordinator over the one RequestCoalescer', async () => {
    const module = await start();
    try {
      const coordinator = module.get(LlmCallCoordinator);
      expect((coordinator as unknown as { flights: unknown }).flights).toBe(module.get(RequestCoalescer));
      expect(module.get(RequestCoalescer)).not.toBeInstanceOf(RecordingCoalescer);
      expect(module.get(CacheKeyPolicy)).toBeInstanceOf(CacheKeyPolicy);
    } finally {
      await module.close();
    }
  });

  it('uses a RequestCoalescer given through the providers extra for the calls of LlmCacheService', async () => {
    const module = await start({ providers: [{ provide: RequestCoalescer, useClass: RecordingCoalescer }] });
    try {
      const llm = module.get(LlmCacheService);
      const miss = await llm.generateTextWithCache(request);
      expect(miss.cached).toBe(false);
      const coalescer = module.get(RequestCoalescer);
      expect(coalescer).toBeInstanceOf(RecordingCoalescer);
      expect((coalescer as RecordingCoalescer<unknown>).led).toEqual([miss.key]);
      expect((await llm.generateTextWithCache(request)).cached).toBe(true);
    } finally {
      await module.close();
    }
  });

  it('uses a replaced role that depends on the module options and other roles (LlmUpstream)', async () => {
    @Injectable()
    class CountingUpstream extends LlmUpstream {
      completions = 0;
      override complete(...args: Parameters<LlmUpstream['complete']>) {
        this.completions++;
        return super.complete(...args);
      }
    }
    const module = await start({ providers: [{ provide: LlmUpstream, useClass: CountingUpstream }] });
    try {
      const llm = module.get(LlmCacheService);
      await llm.generateTextWithCache(request);
      await llm.generateTextWithCache(request);
      expect((module.get(LlmUpstream) as CountingUpstream).completions).toBe(1);
    } finally {
      await module.close();
    }
  });
});
