import { describe, expect, it } from '@jest/globals';
import { MockProvider } from './mock.provider.js';
import { assembleCompletion } from './stream.codec.js';
import type { ChatCompletionChunk } from './llm.types.js';

describe('MockProvider', () => {
  const req = { model: 'whatever', messages: [{ role: 'user' as const, content: 'hello' }] };

  it('answers deterministically, with usage and a model name that says mock', async () => {
    const p = new MockProvider({ latencyMs: 1, model: 'gpt-4o' });
    const a = await p.complete(req);
    const b = await p.complete(req);
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    expect(a.model).toBe('mock-gpt-4o');
    expect(a.usage!.total_tokens).toBeGreaterThan(0);
    expect(
      (await p.complete({ ...req, messages: [{ role: 'user', content: 'other' }] })).choices[0].message
        .content,
    ).not.toBe(a.choices[0].message.content);
  });

  it('streams the same answer chunk by chunk, with usage when asked', async () => {
    const p = new MockProvider({ latencyMs: 1 });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of p.stream({ ...req, stream_options: { include_usage: true } })) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(3);
    expect(assembleCompletion(chunks).choices[0].message.content).toBe(
      (await p.complete(req)).choices[0].message.content,
    );
    expect(chunks.at(-1)!.usage).toBeTruthy();
  });

  it('takes about latencyMs and stops when aborted', async () => {
    const p = new MockProvider({ latencyMs: 200 });
    const controller = new AbortController();
    const start = Date.now();
    setTimeout(() => controller.abort(), 20);
    await expect(p.complete(req, { signal: controller.signal })).rejects.toMatchObject({ status: 408 });
    expect(Date.now() - start).toBeLessThan(150);
  });
});
