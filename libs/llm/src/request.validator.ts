import { DEFAULT_MAX_MESSAGES } from './llm.constants.js';
import { LlmRequestValidationError } from './llm-cache.errors.js';
import type { ChatCompletionRequest } from './llm.types.js';

export interface RequestValidationOptions {
  /** Upper bound of `messages.length` (a cheap guard against abusive bodies). */
  maxMessages?: number;
  /** Deepest nesting of objects and arrays accepted anywhere in the body (default 64). */
  maxDepth?: number;
}

/** Far deeper than any real request (JSON Schemas included), far shallower than what breaks a recursive walk. */
export const DEFAULT_MAX_REQUEST_DEPTH = 64;

/**
 * Keys that mean something to JavaScript objects rather than to the API: no OpenAI field is named so, and a body
 * carrying one at any depth is probing for prototype pollution in whatever handles it after us (here or upstream).
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

/**
 * Checks the shape of a chat-completions body before it reaches the cache key or the provider, so bad input is a
 * 400 naming the field, never an upstream error or a poisoned entry. Unknown fields are allowed (they pass through).
 */
export function validateChatCompletionRequest(
  body: unknown,
  options: RequestValidationOptions = {},
): ChatCompletionRequest {
  const maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
  if (!isObject(body)) fail('', 'request body must be a JSON object');
  checkTree(body, options.maxDepth ?? DEFAULT_MAX_REQUEST_DEPTH);
  if (typeof body.model !== 'string' || body.model.trim() === '')
    fail('model', 'model is required and must be a non-empty string');
  if (!Array.isArray(body.messages)) fail('messages', 'messages is required and must be an array');
  if (body.messages.length === 0) fail('messages', 'messages must contain at least one message');
  if (body.messages.length > maxMessages)
    fail('messages', `messages has ${body.messages.length} items; at most ${maxMessages} allowed`);
  body.messages.forEach((m, i) => validateMessage(m, `messages[${i}]`));

  range(body, 'temperature', 0, 2);
  range(body, 'top_p', 0, 1);
  range(body, 'presence_penalty', -2, 2);
  range(body, 'frequency_penalty', -2, 2);
  positiveInt(body, 'max_tokens');
  positiveInt(body, 'max_completion_tokens');
  if (present(body.n) && (!Number.isInteger(body.n) || (body.n as number) < 1 || (body.n as number) > 128)) {
    fail('n', 'n must be an integer between 1 and 128');
  }
  if (present(body.seed) && !Number.isInteger(body.seed)) fail('seed', 'seed must be an integer');
  if (present(body.stop)) {
    const stop = body.stop;
    const ok =
      typeof stop === 'string' ||
      (Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string'));
    if (!ok) fail('stop', 'stop must be a string or an array of at most 4 strings');
  }
  if (present(body.stream) && typeof body.stream !== 'boolean') fail('stream', 'stream must be a boolean');
  if (present(body.stream_options)) {
    if (!isObject(body.stream_options)) fail('stream_options', 'stream_options must be an object');
    const inc = body.stream_options.include_usage;
    if (inc !== undefined && typeof inc !== 'boolean')
      fail('stream_options.include_usage', 'include_usage must be a boolean');
  }
  if (present(body.user) && typeof body.user !== 'string') fail('user', 'user must be a string');
  if (present(body.logit_bias)) {
    if (!isObject(body.logit_bias)) fail('logit_bias', 'logit_bias must be an object of token id → bias');
    for (const [token, bias] of Object.entries(body.logit_bias)) {
      if (typeof bias !== 'number' || bias < -100 || bias > 100)
        fail(`logit_bias.${token}`, 'bias must be a number in [-100, 100]');
    }
  }
  if (present(body.response_format)) {
    if (!isObject(body.response_format) || typeof body.response_format.type !== 'string') {
      fail('response_format', 'response_format must be an object with a string type');
    }
  }
  if (present(body.tools)) {
    if (!Array.isArray(body.tools)) fail('tools', 'tools must be an array');
    body.tools.forEach((t, i) => validateTool(t, `tools[${i}]`));
  }
  if (present(body.tool_choice)) {
    const tc = body.tool_choice;
    const ok = (typeof tc === 'string' && ['none', 'auto', 'required'].includes(tc)) || isObject(tc);
    if (!ok) fail('tool_choice', 'tool_choice must be "none", "auto", "required" or an object naming a tool');
  }
  return body as unknown as ChatCompletionRequest;
}

interface Node {
  value: unknown;
  depth: number;
  name: string | number;
  parent?: Node;
}

/**
 * One iterative walk over the whole body (a recursive walk is what deep input breaks), failing on the first path
 * that is nested deeper than `max`, uses a prototype key (`__proto__`, `constructor`, `prototype`), holds a number
 * that is not finite (JSON's `1e309` parses to Infinity) or a string (value or key) with a lone surrogate. Unknown
 * fields pass through to the provider, so they are held to this too.
 */
function checkTree(body: Record<string, unknown>, max: number): void {
  const stack: Node[] = [{ value: body, depth: 0, name: '' }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) fail(pathOf(node), 'numbers must be finite');
      continue;
    }
    if (typeof value === 'string') {
      if (!value.isWellFormed()) fail(pathOf(node), 'strings must be valid Unicode (a lone surrogate)');
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (node.depth > max) fail(pathOf(node), `nested more than ${max} levels deep`);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        stack.push({ value: value[i], depth: node.depth + 1, name: i, parent: node });
      continue;
    }
    for (const k of Object.keys(value)) {
      const child = {
        value: (value as Record<string, unknown>)[k],
        depth: node.depth + 1,
        name: k,
        parent: node,
      };
      if (FORBIDDEN_KEYS.has(k)) fail(pathOf(child), `the key "${k}" is not allowed`);
      if (!k.isWellFormed()) fail(pathOf(child), 'keys must be valid Unicode (a lone surrogate)');
      stack.push(child);
    }
  }
}

function pathOf(node: Node): string {
  let path = '';
  for (let n: Node | undefined = node; n?.parent; n = n.parent) {
    path =
      typeof n.name === 'number' ? `[${n.name}]${path}` : `${n.parent.parent ? '.' : ''}${n.name}${path}`;
  }
  return path;
}

function validateMessage(m: unknown, path: string): void {
  if (!isObject(m)) fail(path, 'each message must be an object');
  if (typeof m.role !== 'string' || !ROLES.has(m.role)) {
    fail(`${path}.role`, `role must be one of ${[...ROLES].join(', ')}`);
  }
  const content = m.content;
  const hasToolCalls = Array.isArray(m.tool_calls) && m.tool_calls.length > 0;
  if (content === undefined || content === null) {
    // An assistant turn that only called tools legitimately has no content.
    if (!(m.role === 'assistant' && (hasToolCalls || isObject(m.function_call))))
      fail(`${path}.content`, 'content is required');
  } else if (Array.isArray(content)) {
    if (content.length === 0) fail(`${path}.content`, 'content must not be an empty array');
    content.forEach((part, j) => {
      if (!isObject(part) || typeof part.type !== 'string')
        fail(`${path}.content[${j}]`, 'content parts must be objects with a string type');
    });
  } else if (typeof content !== 'string') {
    fail(`${path}.content`, 'content must be a string or an array of content parts');
  }
  if (m.role === 'tool' && typeof m.tool_call_id !== 'string')
    fail(`${path}.tool_call_id`, 'a tool message needs tool_call_id');
  if (present(m.tool_calls)) {
    if (!Array.isArray(m.tool_calls)) fail(`${path}.tool_calls`, 'tool_calls must be an array');
    m.tool_calls.forEach((call: unknown, j: number) => {
      if (!isObject(call) || typeof call.id !== 'string' || typeof call.type !== 'string')
        fail(`${path}.tool_calls[${j}]`, 'each tool call must be an object with a string id and type');
    });
  }
}

function validateTool(t: unknown, path: string): void {
  if (!isObject(t) || typeof t.type !== 'string') fail(path, 'each tool must be an object with a type');
  if (t.type === 'function') {
    const fn = t.function;
    if (!isObject(fn) || typeof fn.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(fn.name)) {
      fail(`${path}.function.name`, 'a function tool needs a name of 1–64 letters, digits, _ or -');
    }
    if (present(fn.parameters) && !isObject(fn.parameters))
      fail(`${path}.function.parameters`, 'parameters must be a JSON Schema object');
  }
}

function range(body: Record<string, unknown>, field: string, min: number, max: number): void {
  const v = body[field];
  if (!present(v)) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    fail(field, `${field} must be a number between ${min} and ${max}`);
}

function positiveInt(body: Record<string, unknown>, field: string): void {
  const v = body[field];
  if (present(v) && (!Number.isInteger(v) || (v as number) < 1))
    fail(field, `${field} must be a positive integer`);
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(param: string, message: string): never {
  throw new LlmRequestValidationError(message, param);
}
