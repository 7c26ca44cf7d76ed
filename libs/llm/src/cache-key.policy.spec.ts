import { describe, expect, it } from '@jest/globals';
import {
  CacheKeyPolicy,
  canonicalJson,
  sha256,
  tenantSegment,
  VOLATILE_FIELDS,
  writeCanonicalRequest,
} from './cache-key.policy.js';
import type { ChatCompletionRequest } from './llm.types.js';

const policy = new CacheKeyPolicy({ schemaVersion: 1, shareAcrossTenants: false, includeUserField: false });
const base: ChatCompletionRequest = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
  ],
};
/** Every key is derived twice: by the one-walk hot path (`key`) and by the field-by-field `explain`; they agree. */
const keyOf = (req: ChatCompletionRequest, tenant = 't1', p = policy, provider = 'openai:http://x') => {
  const key = p.key(req, tenant, provider);
  expect(p.explain(req, tenant, provider).key).toBe(key);
  return key;
};

describe('CacheKeyPolicy', () => {
  it('keeps a field named "__proto__" in the key (JSON.parse makes it an own field; it must not vanish)', () => {
    // JSON.parse, like a body parser, creates "__proto__" as an ordinary own property.
    const withProto = (value: unknown) =>
      JSON.parse(
        JSON.stringify({ ...base, tools: [] }).replace('"tools":[]', `"__proto__":${JSON.stringify(value)}`),
      );
    const nested = (value: unknown) =>
      JSON.parse(
        JSON.stringify({
          ...base,
          response_format: { type: 'json_schema', json_schema: { schema: 0 } },
        }).replace('"schema":0', `"schema":{"__proto__":${JSON.stringify(value)}}`),
      );
    expect(keyOf(withProto({ a: 1 }))).not.toBe(keyOf(withProto({ a: 2 })));
    expect(keyOf(withProto({ a: 1 }))).not.toBe(keyOf(base));
    expect(keyOf(nested({ a: 1 }))).not.toBe(keyOf(nested({ a: 2 })));
  });

  it('is independent of object key order at every depth', () => {
    const a = {
      ...base,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { a: 1, b: 2 } } },
    };
    const b = {
      response_format: { json_schema: { schema: { b: 2, a: 1 }, name: 'x' }, type: 'json_schema' },
      messages: base.messages,
      model: base.model,
    } as ChatCompletionRequest;
    expect(keyOf(a)).toBe(keyOf(b));
  });

  it.each([
    ['model', { model: 'gpt-4o' }],
    ['system message', { messages: [{ role: 'system', content: 'be long' }, base.messages[1]] }],
    ['temperature', { temperature: 0.2 }],
    ['top_p', { top_p: 0.5 }],
    ['max_tokens', { max_tokens: 10 }],
    ['seed', { seed: 7 }],
    ['stop', { stop: ['\n'] }],
    ['n', { n: 2 }],
    ['logit_bias', { logit_bias: { '50256': -100 } }],
    ['presence_penalty', { presence_penalty: 0.5 }],
    ['frequency_penalty', { frequency_penalty: 0.5 }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['tools', { tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }],
    ['an unknown field', { reasoning_effort: 'high' }],
  ])('changes when %s changes', (_name, change) => {
    expect(keyOf({ ...base, ...change } as ChatCompletionRequest)).not.toBe(keyOf(base));
  });

  it.each([
    ['stream', { stream: true }],
    ['stream_options', { stream_options: { include_usage: true } }],
    ['user', { user: 'u-123' }],
    ['metadata', { metadata: { trace: 'abc' } }],
    ['a null optional field', { seed: null, stop: null }],
  ])('ignores %s', (_name, change) => {
    expect(keyOf({ ...base, ...change } as ChatCompletionRequest)).toBe(keyOf(base));
  });

  it.each([
    ['absent temperature and temperature 1', { temperature: 1 }],
    ['absent top_p and top_p 1', { top_p: 1 }],
    ['absent n and n 1', { n: 1 }],
    ['absent penalties and 0', { presence_penalty: 0, frequency_penalty: 0 }],
    ['empty stop', { stop: [] }],
    ['text response_format', { response_format: { type: 'text' } }],
    ['empty tools', { tools: [] }],
    ['tool_choice without tools', { tool_choice: 'none' }],
  ])('treats %s as the same request', (_name, change) => {
    expect(keyOf({ ...base, ...change } as ChatCompletionRequest)).toBe(keyOf(base));
  });

  it('treats max_tokens and max_completion_tokens as the same limit, and a stop string as a one-item list', () => {
    expect(keyOf({ ...base, max_tokens: 5 })).toBe(keyOf({ ...base, max_completion_tokens: 5 }));
    expect(keyOf({ ...base, stop: 'END' })).toBe(keyOf({ ...base, stop: ['END'] }));
  });

  it('includes the user field only when configured', () => {
    const withUser = new CacheKeyPolicy({
      schemaVersion: 1,
      shareAcrossTenants: false,
      includeUserField: true,
    });
    expect(keyOf({ ...base, user: 'a' }, 't1', withUser)).not.toBe(
      keyOf({ ...base, user: 'b' }, 't1', withUser),
    );
  });

  it('scopes keys by tenant, provider identity and schema version', () => {
    expect(keyOf(base, 'alice')).not.toBe(keyOf(base, 'bob'));
    expect(keyOf(base, 't1', policy, 'openai:http://a')).not.toBe(
      keyOf(base, 't1', policy, 'openai:http://b'),
    );
    const v2 = new CacheKeyPolicy({ schemaVersion: 2, shareAcrossTenants: false, includeUserField: false });
    expect(keyOf(base, 't1', v2)).toMatch(/^llm:v2:t1:\{[0-9a-f]{64}\}$/);
    expect(keyOf(base, 't1')).toMatch(/^llm:v1:t1:\{[0-9a-f]{64}\}$/);
  });

  it('shares across tenants only when asked, under a segment no tenant can have', () => {
    const shared = new CacheKeyPolicy({
      schemaVersion: 1,
      shareAcrossTenants: true,
      includeUserField: false,
    });
    expect(keyOf(base, 'alice', shared)).toBe(keyOf(base, 'bob', shared));
    expect(keyOf(base, 'alice', shared)).toMatch(/^llm:v1:_shared:/);
    expect(tenantSegment('_shared-not')).toMatch(/^~[0-9a-f]{24}$/);
  });

  it('never gives a tenant named _shared the key of an entry shared across tenants', () => {
    const shared = new CacheKeyPolicy({
      schemaVersion: 1,
      shareAcrossTenants: true,
      includeUserField: false,
    });
    const own = keyOf(base, '_shared');
    expect(own).not.toBe(keyOf(base, 'alice', shared));
    expect(own).toMatch(/^llm:v1:~[0-9a-f]{24}:\{[0-9a-f]{64}\}$/);
    // Same digest material but for the scope: even a custom key function cannot make the two meet.
    const fn = () => 'same';
    const sharedFn = new CacheKeyPolicy({
      schemaVersion: 1,
      shareAcrossTenants: true,
      includeUserField: false,
      cacheKeyFn: fn,
    });
    const ownFn = new CacheKeyPolicy({
      schemaVersion: 1,
      shareAcrossTenants: false,
      includeUserField: false,
      cacheKeyFn: fn,
    });
    expect(ownFn.key(base, '_shared', 'p').split(':')[3]).not.toBe(
      sharedFn.key(base, 'x', 'p').split(':')[3],
    );
  });

  it('hashes tenants that are unsafe as a key segment (glob characters, colons, length)', () => {
    expect(keyOf(base, 'evil:*')).toMatch(/^llm:v1:~[0-9a-f]{24}:\{[0-9a-f]{64}\}$/);
    expect(keyOf(base, 'a'.repeat(100))).toMatch(/^llm:v1:~/);
    expect(keyOf(base, 'evil:*')).not.toBe(keyOf(base, 'evil:?'));
  });

  it('explains with names and hashes only, never content', () => {
    const e = policy.explain(
      { ...base, user: 'secret-user', stream: true, temperature: 0 },
      't1',
      'openai:http://x',
    );
    expect(e.fields.map((f) => f.name)).toEqual([
      'frequency_penalty',
      'messages',
      'model',
      'n',
      'presence_penalty',
      'temperature',
      'top_p',
    ]);
    expect(e.excluded).toEqual(['stream', 'user']);
    expect(JSON.stringify(e)).not.toMatch(/be brief|secret-user|gpt-4o-mini/);
    expect(e.fields.every((f) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
  });

  it('uses a custom key function, still scoped by tenant', () => {
    const custom = new CacheKeyPolicy({
      schemaVersion: 1,
      shareAcrossTenants: false,
      includeUserField: false,
      cacheKeyFn: (req) => `${req.model}|${JSON.stringify(req.messages.at(-1))}`,
    });
    const a = custom.explain({ ...base, temperature: 0.1 }, 't1', 'p');
    const b = custom.explain({ ...base, temperature: 0.9 }, 't1', 'p');
    expect(a.key).toBe(b.key);
    expect(a.fields).toEqual([{ name: 'cacheKeyFn', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(custom.explain(base, 't2', 'p').key).not.toBe(a.key);
  });

  it('writes the request in one walk exactly as canonicalize + canonicalJson do', () => {
    const volatile = new Set(VOLATILE_FIELDS);
    const proto = JSON.parse('{"model":"m","messages":[],"__proto__":{"x":[1,null,{"b":null,"a":2}]}}');
    const requests: unknown[] = [
      base,
      { ...base, temperature: 0, stop: 'x', max_tokens: 5, user: 'u', stream: true, seed: null },
      { ...base, logit_bias: { '50256': -100, '9': 1, '10': 2, z: 0 }, tools: [] },
      { ...base, logit_bias: { a: null }, response_format: { type: 'text', extra: null } },
      { ...base, response_format: { type: 'json_schema', json_schema: { schema: { b: [null, 1], a: {} } } } },
      { ...base, tools: [{ type: 'function', function: { name: 'f', parameters: { z: 1, a: null } } }] },
      { ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'é "q" \n' }], name: null }] },
      { ...base, unknown_field: { '1': 'a', '01': 'b', '4294967295': 'c', '0': 'd' }, n: 2 },
      proto,
    ];
    for (const r of requests) {
      const req = r as ChatCompletionRequest;
      expect(writeCanonicalRequest(req, volatile)).toBe(canonicalJson(policy.canonicalize(req).fields));
    }
  });

  it('puts the digest in a hash tag, so an entry and its lock share a Redis Cluster slot', () => {
    const key = keyOf(base);
    expect(key).toMatch(/^llm:v1:t1:\{[0-9a-f]{64}\}$/);
    // The digest itself is the one schema 1 always had: sha256 of the canonical {provider, request, tenant, v}.
    const material = canonicalJson(policy.canonicalize(base).fields);
    const digest = sha256(
      canonicalJson({ v: 1, provider: 'openai:http://x', tenant: 't1', request: material }),
    );
    expect(key).toBe(`llm:v1:t1:{${digest}}`);
  });

  it('writes canonical JSON with sorted keys', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });
});
