import { describe, expect, it } from '@jest/globals';
import { LlmRequestValidationError } from './llm-cache.errors.js';
import { validateChatCompletionRequest } from './request.validator.js';

const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

function paramOf(body: unknown, maxMessages?: number): string | undefined {
  try {
    validateChatCompletionRequest(body, { maxMessages });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(LlmRequestValidationError);
    expect((err as LlmRequestValidationError).status).toBe(400);
    return (err as LlmRequestValidationError).param;
  }
}

describe('validateChatCompletionRequest', () => {
  it('accepts a minimal request, tool turns and unknown fields', () => {
    expect(paramOf(ok)).toBeUndefined();
    expect(
      paramOf({
        ...ok,
        reasoning_effort: 'low',
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'hi' }] },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: '{"t":20}' },
        ],
      }),
    ).toBeUndefined();
  });

  it.each([
    [null, ''],
    [{ messages: ok.messages }, 'model'],
    [{ ...ok, model: 3 }, 'model'],
    [{ model: 'm' }, 'messages'],
    [{ model: 'm', messages: [] }, 'messages'],
    [{ model: 'm', messages: {} }, 'messages'],
    [{ model: 'm', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'm', messages: [{ role: 'user' }] }, 'messages[0].content'],
    [{ model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    [{ model: 'm', messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
    [{ ...ok, temperature: 2.5 }, 'temperature'],
    [{ ...ok, temperature: '1' }, 'temperature'],
    [{ ...ok, top_p: 1.1 }, 'top_p'],
    [{ ...ok, max_tokens: 0 }, 'max_tokens'],
    [{ ...ok, max_tokens: 1.5 }, 'max_tokens'],
    [{ ...ok, n: 0 }, 'n'],
    [{ ...ok, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ ...ok, stop: 3 }, 'stop'],
    [{ ...ok, stream: 'yes' }, 'stream'],
    [{ ...ok, tools: {} }, 'tools'],
    [{ ...ok, tools: [{ type: 'function', function: {} }] }, 'tools[0].function.name'],
    [{ ...ok, tool_choice: 'always' }, 'tool_choice'],
    [{ ...ok, logit_bias: { '1': 500 } }, 'logit_bias.1'],
    [{ ...ok, response_format: 'json' }, 'response_format'],
  ])('rejects %j naming %s', (body, param) => {
    expect(paramOf(body)).toBe(param);
  });

  it('refuses input nested deeper than 64 levels with a 400 naming the field, not a stack overflow', () => {
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 10_000; i++) deep = { type: 'object', properties: { a: deep } };
    const tools = [{ type: 'function', function: { name: 'f', parameters: deep } }];
    expect(paramOf({ ...ok, tools })).toMatch(
      /^tools\[0\]\.function\.parameters(\.properties\.a)+\.properties$/,
    );
    let nestedArrays: unknown = 'x';
    for (let i = 0; i < 100; i++) nestedArrays = [nestedArrays];
    expect(paramOf({ ...ok, extra: nestedArrays })).toMatch(/^extra(\[0\])+$/);
    // 64 levels is fine (messages[0].content[0] alone is 3 deep), 65 is not.
    let levels64: unknown = 1;
    for (let i = 0; i < 64; i++) levels64 = { a: levels64 };
    expect(paramOf({ ...ok, extra: levels64 })).toBeUndefined();
    expect(paramOf({ ...ok, extra: [levels64] })).toBe('extra[0]' + '.a'.repeat(63));
  });

  it('refuses prototype keys at any depth, as parsed from JSON (own properties)', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      expect(
        paramOf(JSON.parse(`{"model":"m","messages":[{"role":"user","content":"hi"}],"${key}":{}}`)),
      ).toBe(key);
      const nested = JSON.parse(
        `{"model":"m","messages":[{"role":"user","content":"hi","x":[{"${key}":{"polluted":true}}]}]}`,
      );
      expect(paramOf(nested)).toBe(`messages[0].x[0].${key}`);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses non-finite numbers (1e309) and lone surrogates anywhere, keys included', () => {
    expect(
      paramOf(JSON.parse('{"model":"m","messages":[{"role":"user","content":"hi"}],"extra":[1e309]}')),
    ).toBe('extra[0]');
    expect(paramOf({ ...ok, temperature: -Infinity })).toBe('temperature');
    expect(paramOf(JSON.parse('{"model":"m","messages":[{"role":"user","content":"a\\ud800b"}]}'))).toBe(
      'messages[0].content',
    );
    expect(
      paramOf(JSON.parse('{"model":"m","messages":[{"role":"user","content":"hi"}],"k\\udc00":1}')),
    ).toBe('k\udc00');
    // A proper pair (an emoji) and -0 where zero is allowed are fine.
    expect(
      paramOf({ ...ok, messages: [{ role: 'user', content: 'ok \u{1F600}' }], temperature: -0 }),
    ).toBeUndefined();
  });

  it('refuses an empty content array and tool calls that are not objects with an id and a type', () => {
    expect(paramOf({ ...ok, messages: [{ role: 'user', content: [] }] })).toBe('messages[0].content');
    const assistant = (tool_calls: unknown) => ({
      ...ok,
      messages: [{ role: 'assistant', content: 'x', tool_calls }],
    });
    expect(paramOf(assistant([1, 'a']))).toBe('messages[0].tool_calls[0]');
    expect(paramOf(assistant([{ id: 'c1' }]))).toBe('messages[0].tool_calls[0]');
    expect(
      paramOf(assistant([{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }])),
    ).toBeUndefined();
  });

  it('bounds the number of messages', () => {
    const many = { model: 'm', messages: Array.from({ length: 5 }, () => ({ role: 'user', content: 'x' })) };
    expect(paramOf(many, 4)).toBe('messages');
    expect(paramOf(many, 5)).toBeUndefined();
  });
});
