import { describe, expect, it } from '@jest/globals';
import type { ChatCompletion, ChatCompletionChunk } from './llm.types.js';
import {
  assembleCompletion,
  chunkForClient,
  hasFinished,
  isCompleteStream,
  isWellFormedChunk,
  isWellFormedCompletion,
  synthesizeChunks,
} from './stream.codec.js';

const base = { id: 'c1', object: 'chat.completion.chunk' as const, created: 1, model: 'm' };
const chunk = (
  choices: ChatCompletionChunk['choices'],
  extra: Partial<ChatCompletionChunk> = {},
): ChatCompletionChunk => ({
  ...base,
  choices,
  ...extra,
});
const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };

const textStream: ChatCompletionChunk[] = [
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
  chunk([{ index: 0, delta: { content: 'Hello ' }, finish_reason: null }]),
  chunk([{ index: 0, delta: { content: 'world' }, finish_reason: null }]),
  chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]),
  chunk([], { usage }),
];

const toolStream: ChatCompletionChunk[] = [
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
  chunk([
    {
      index: 0,
      delta: {
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      },
      finish_reason: null,
    },
  ]),
  chunk([
    {
      index: 0,
      delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      finish_reason: null,
    },
  ]),
  chunk([
    {
      index: 0,
      delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
      finish_reason: null,
    },
  ]),
  chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]),
];

describe('stream codec', () => {
  it('assembles content deltas and usage into a completion', () => {
    const c = assembleCompletion(textStream);
    expect(c).toMatchObject({ id: 'c1', object: 'chat.completion', model: 'm', usage });
    expect(c.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello world', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ]);
  });

  it('assembles tool-call deltas by index', () => {
    const c = assembleCompletion(toolStream);
    expect(c.choices[0].finish_reason).toBe('tool_calls');
    expect(c.choices[0].message.content).toBeNull();
    expect(c.choices[0].message.tool_calls).toEqual([
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ]);
  });

  it('synthesizes chunks that assemble back into the same completion', () => {
    for (const stream of [textStream, toolStream]) {
      const completion = assembleCompletion(stream);
      expect(assembleCompletion(synthesizeChunks(completion))).toEqual(completion);
    }
  });

  it('synthesizes a role chunk first and a finish chunk per choice', () => {
    const completion: ChatCompletion = assembleCompletion(textStream);
    const chunks = synthesizeChunks(completion);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop')).toHaveLength(1);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage });
  });

  it('calls a stream complete only when every choice finished with a storable reason', () => {
    expect(isCompleteStream(textStream, false)).toBe(true);
    expect(isCompleteStream(textStream.slice(0, 3), false)).toBe(false);
    expect(isCompleteStream([], false)).toBe(false);
    const twoChoices = [
      chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }]),
      chunk([{ index: 1, delta: { content: 'b' }, finish_reason: null }]),
    ];
    expect(isCompleteStream(twoChoices, false)).toBe(false);
    const truncated = [chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'length' }])];
    expect(isCompleteStream(truncated, false)).toBe(false);
    expect(isCompleteStream(truncated, true)).toBe(true);
  });

  it('hides usage from a client that did not ask for it', () => {
    expect(chunkForClient(textStream[4], false)).toBeUndefined();
    expect(chunkForClient(textStream[4], true)).toBe(textStream[4]);
    const withNullUsage = chunk([{ index: 0, delta: { content: 'x' }, finish_reason: null }], {
      usage: null,
    });
    expect(chunkForClient(withNullUsage, false)).not.toHaveProperty('usage');
  });

  it('tells a well-formed completion or chunk from a malformed 200', () => {
    expect(
      isWellFormedCompletion({ choices: [{ index: 0, message: { role: 'assistant', content: 'x' } }] }),
    ).toBe(true);
    for (const bad of [{}, null, { choices: {} }, { choices: [null] }, { choices: [{ index: 0 }] }])
      expect(isWellFormedCompletion(bad)).toBe(false);
    expect(isWellFormedChunk(chunk([{ index: 0, delta: {}, finish_reason: null }]))).toBe(true);
    expect(isWellFormedChunk(chunk([], { usage }))).toBe(true);
    expect(isWellFormedChunk({ ...base, usage })).toBe(true);
    for (const bad of [{ ...base }, { ...base, choices: 'x' }, { ...base, choices: [1] }, 'data', null])
      expect(isWellFormedChunk(bad)).toBe(false);
  });

  it('knows a stream finished whatever its finish_reason, and not before every choice did', () => {
    expect(hasFinished(textStream)).toBe(true);
    expect(hasFinished([chunk([{ index: 0, delta: {}, finish_reason: 'content_filter' }])])).toBe(true);
    expect(hasFinished(textStream.slice(0, 2))).toBe(false);
    expect(hasFinished([])).toBe(false);
    expect(
      hasFinished([
        chunk([{ index: 0, delta: {}, finish_reason: 'length' }]),
        chunk([{ index: 1, delta: { content: 'x' }, finish_reason: null }]),
      ]),
    ).toBe(false);
  });
});
