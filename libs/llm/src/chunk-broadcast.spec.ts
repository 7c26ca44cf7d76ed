import { describe, expect, it } from '@jest/globals';
import { ChunkBroadcast } from './chunk-broadcast.js';
import type { ChatCompletionChunk } from './llm.types.js';

const chunk = (i: number): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'm',
  choices: [{ index: 0, delta: { content: `piece ${i} `.padEnd(40, '.') }, finish_reason: null }],
});

describe('ChunkBroadcast', () => {
  it('keeps the whole sequence for storage while it is within maxCaptureBytes', async () => {
    const b = new ChunkBroadcast({ maxCaptureBytes: 10_000 });
    for (let i = 0; i < 5; i++) b.push(chunk(i));
    b.end();
    expect(b.isCapturing).toBe(true);
    expect(b.chunks).toHaveLength(5);
    const read: ChatCompletionChunk[] = [];
    for await (const c of b.read()) read.push(c);
    expect(read).toEqual(b.chunks);
  });

  it('stops capturing past maxCaptureBytes and keeps only what its reader has not read, relaying everything', async () => {
    const b = new ChunkBroadcast({ maxCaptureBytes: 1000 });
    const reader = b.read();
    const read: ChatCompletionChunk[] = [];
    let maxKept = 0;
    for (let i = 0; i < 2000; i++) {
      b.push(chunk(i));
      maxKept = Math.max(maxKept, b.chunks.length);
      const next = await reader.next();
      read.push(next.value as ChatCompletionChunk);
    }
    b.end();
    expect((await reader.next()).done).toBe(true);
    expect(b.isCapturing).toBe(false);
    expect(read.map((c) => c.choices[0].delta.content)).toEqual(
      Array.from({ length: 2000 }, (_, i) => chunk(i).choices[0].delta.content),
    );
    // Bounded: a reader that keeps up leaves (about) nothing behind, not 2000 chunks.
    expect(maxKept).toBeLessThan(20);
  });

  it('never drops a chunk a slow reader has not read yet', async () => {
    const b = new ChunkBroadcast({ maxCaptureBytes: 200 });
    const reader = b.read();
    b.push(chunk(0));
    expect((await reader.next()).value).toEqual(chunk(0));
    for (let i = 1; i < 600; i++) b.push(chunk(i));
    b.end(new Error('upstream broke'));
    const rest: ChatCompletionChunk[] = [];
    await expect(
      (async () => {
        for (let r = await reader.next(); !r.done; r = await reader.next()) rest.push(r.value);
      })(),
    ).rejects.toThrow('upstream broke');
    expect(rest).toHaveLength(599);
    expect(rest[598]).toEqual(chunk(599));
  });

  it('stops a reader whose signal aborts while it waits for the next chunk', async () => {
    const b = new ChunkBroadcast();
    const controller = new AbortController();
    const reading = (async () => {
      for await (const _c of b.read(controller.signal)) {
        /* waits: nothing is pushed */
      }
    })();
    setTimeout(() => controller.abort(new Error('gone')), 10);
    await expect(reading).rejects.toThrow('gone');
    b.push(chunk(0));
    b.end();
  });
});
