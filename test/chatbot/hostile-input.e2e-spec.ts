/**
 * Hostile input against the real chatbot (real HTTP, real Redis, the fake OpenAI upstream counting calls), generated
 * rather than listed: prototype keys at every depth, deep nesting, 1e309 and -0, lone surrogates and invalid UTF-8,
 * huge strings and arrays, a wrong type for every field, header injection in Cache-Control and Authorization,
 * oversized, truncated and slow bodies. Every one must be a 4xx in the OpenAI error shape, with no 5xx, no crash
 * and no upstream call. Then cross-tenant probes: the same prompts from two tenants, streamed and not, on /chat and
 * /v1, concurrently and one after the other: no tenant is ever served another tenant's answer.
 * The counts are printed (console.log) so they can be reported.
 */
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const BODY_LIMIT_BYTES = 64 * 1024;
const MAX_MESSAGE_CHARS = 4000;
const MAX_MESSAGES = 32;
const CONCURRENCY = 8;

type Path = '/v1/chat/completions' | '/chat';
interface Hostile {
  name: string;
  path: Path;
  /** The body as bytes (so invalid UTF-8 and truncated JSON can be sent); JSON-encoded when an object. */
  body: Buffer | string | object;
  headers?: Record<string, string>;
  /** The exact status, where one is owed (otherwise any 4xx). */
  status?: number;
}
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function send(
  base: string,
  path: string,
  body: Buffer | string | object | undefined,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const url = new URL(path, base);
  const payload =
    body === undefined
      ? undefined
      : Buffer.isBuffer(body)
        ? body
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: payload === undefined ? 'GET' : 'POST',
        agent,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          ...headers,
        },
        timeout: 15_000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(parts).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within 15 s: ${path}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Raw bytes over a fresh socket, for what an HTTP client refuses to send; resolves with the raw response text. */
function sendRaw(port: number, bytes: Buffer[], gapMs = 0, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    const done = () => resolve(Buffer.concat(parts).toString('utf8'));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (d) => parts.push(d));
    socket.on('close', done);
    socket.on('error', () => undefined);
    socket.on('connect', async () => {
      for (const b of bytes) {
        if (socket.destroyed) return;
        socket.write(b);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** `null` when `text` is an OpenAI error body, or what is wrong with it. */
function openAiShapeProblem(text: string): string | null {
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return `not JSON: ${text.slice(0, 120)}`;
  }
  if (!body || typeof body !== 'object' || Object.keys(body).join() !== 'error') return 'not {error}';
  const e = body.error;
  if (typeof e?.message !== 'string' || e.message.length === 0) return 'no message';
  if (typeof e.type !== 'string') return 'no type';
  for (const k of ['param', 'code'] as const) {
    if (!(k in e) || (e[k] !== null && typeof e[k] !== 'string')) return `bad ${k}`;
  }
  return null;
}

// ---------------------------------------------------------------- generators

const auth = (key = ACME) => ({ authorization: `Bearer ${key}` });
const okV1 = (content = 'hello') => ({ model: 'fake-model', messages: [{ role: 'user', content }] });
const okChat = (message = 'hello') => ({ message });

/** Puts `value` under `key` at `depth` levels inside a valid body, along several routes into it. */
function nestInto(path: Path, key: string, value: unknown, depth: number, route: number): object {
  let inner: any = { [key]: value };
  for (let i = 0; i < depth; i++) inner = route % 2 ? { n: inner } : [inner];
  if (path === '/chat') {
    return route % 3 === 0
      ? { ...okChat(), temperature: inner }
      : route % 3 === 1
        ? { ...okChat(), model: inner }
        : { ...okChat(), [key]: value };
  }
  switch (route % 4) {
    case 0:
      return { ...okV1(), extra: inner };
    case 1:
      return { ...okV1(), messages: [{ role: 'user', content: 'hi', meta: inner }] };
    case 2:
      return { ...okV1(), tools: [{ type: 'function', function: { name: 'f', parameters: inner } }] };
    default:
      return { ...okV1(), response_format: { type: 'json_schema', json_schema: inner } };
  }
}

function prototypeKeys(): Hostile[] {
  const out: Hostile[] = [];
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    for (const path of ['/v1/chat/completions', '/chat'] as Path[]) {
      for (let depth = 0; depth <= 24; depth++) {
        for (let route = 0; route < 4; route++) {
          // JSON text, so "__proto__" arrives as an own key exactly as an attacker sends it.
          const body = JSON.stringify(
            nestInto(path, 'placeholder', { polluted: true, isAdmin: true }, depth, route),
          ).replace('"placeholder"', JSON.stringify(key));
          out.push({ name: `${key} at depth ${depth} via route ${route} on ${path}`, path, body });
        }
      }
    }
  }
  return out;
}

function deepNesting(): Hostile[] {
  const out: Hostile[] = [];
  for (const path of ['/v1/chat/completions', '/chat'] as Path[]) {
    for (const depth of [65, 100, 1000]) {
      for (let route = 0; route < 4; route++) {
        out.push({
          name: `${depth} levels via route ${route} on ${path}`,
          path,
          body: nestInto(path, 'x', 1, depth, route),
        });
      }
    }
    // Straight JSON text nesting (never built as an object by us): 100 and 50 000 levels of arrays.
    for (const depth of [100, 50_000]) {
      out.push({
        name: `raw ${depth}-level array`,
        path,
        body: `{"message":"hi","model":"fake-model","messages":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      });
    }
  }
  return out;
}

function numbers(): Hostile[] {
  const out: Hostile[] = [];
  const nonFinite = ['1e309', '-1e309', '1E400', '-0e999999'];
  for (const lit of nonFinite.slice(0, 3)) {
    for (const field of [
      'temperature',
      'top_p',
      'max_tokens',
      'n',
      'seed',
      'presence_penalty',
      'frequency_penalty',
      'extra',
    ]) {
      out.push({
        name: `${field}: ${lit}`,
        path: '/v1/chat/completions',
        body: `{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"${field}":${lit}}`,
      });
    }
    out.push({
      name: `logit_bias value ${lit}`,
      path: '/v1/chat/completions',
      body: `{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":${lit}}}`,
    });
    out.push({
      name: `nested ${lit}`,
      path: '/v1/chat/completions',
      body: `{"model":"fake-model","messages":[{"role":"user","content":"hi","x":{"y":[${lit}]}}]}`,
    });
    for (const field of ['temperature', 'max_tokens']) {
      out.push({ name: `/chat ${field}: ${lit}`, path: '/chat', body: `{"message":"hi","${field}":${lit}}` });
    }
  }
  // -0 where zero is not allowed.
  for (const field of ['max_tokens', 'max_completion_tokens', 'n']) {
    out.push({
      name: `${field}: -0`,
      path: '/v1/chat/completions',
      body: `{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"${field}":-0}`,
    });
  }
  out.push({ name: '/chat max_tokens: -0', path: '/chat', body: '{"message":"hi","max_tokens":-0}' });
  return out;
}

function encodings(): Hostile[] {
  const out: Hostile[] = [];
  const surrogates = ['\\ud800', '\\udfff', 'a\\udbffb', '\\udc00\\ud800', 'x'.repeat(100) + '\\ud83d'];
  for (const s of surrogates) {
    out.push({
      name: `lone surrogate ${s.slice(-8)} in content`,
      path: '/v1/chat/completions',
      body: `{"model":"fake-model","messages":[{"role":"user","content":"${s}"}]}`,
    });
    out.push({
      name: `lone surrogate in model`,
      path: '/v1/chat/completions',
      body: `{"model":"fake${s}","messages":[{"role":"user","content":"hi"}]}`,
    });
    out.push({
      name: `lone surrogate in a key`,
      path: '/v1/chat/completions',
      body: `{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"k${s}":1}`,
    });
    out.push({ name: `lone surrogate in /chat message`, path: '/chat', body: `{"message":"${s}"}` });
  }
  const badUtf8 = [
    [0xff],
    [0xc3, 0x28],
    [0xe2, 0x82],
    [0xf0, 0x9f, 0x98],
    [0xed, 0xa0, 0x80], // an encoded surrogate
    [0xc0, 0xaf], // overlong "/"
    [0xf8, 0x88, 0x80, 0x80, 0x80],
  ];
  for (const bytes of badUtf8) {
    for (const path of ['/v1/chat/completions', '/chat'] as Path[]) {
      const [head, tail] =
        path === '/chat'
          ? ['{"message":"abc', '"}']
          : ['{"model":"fake-model","messages":[{"role":"user","content":"abc', '"}]}'];
      out.push({
        status: 400,
        name: `invalid UTF-8 ${bytes.map((b) => b.toString(16)).join(' ')} on ${path}`,
        path,
        body: Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)]),
      });
    }
  }
  return out;
}

function sizes(): Hostile[] {
  const out: Hostile[] = [];
  out.push({
    status: 413,
    name: 'content over the body limit',
    path: '/v1/chat/completions',
    body: okV1('x'.repeat(BODY_LIMIT_BYTES)),
  });
  out.push({
    status: 413,
    name: '/chat message over the body limit',
    path: '/chat',
    body: okChat('x'.repeat(BODY_LIMIT_BYTES)),
  });
  out.push({
    name: '/chat message over MAX_MESSAGE_CHARS',
    path: '/chat',
    body: okChat('y'.repeat(MAX_MESSAGE_CHARS + 1)),
  });
  out.push({
    name: 'too many messages',
    path: '/v1/chat/completions',
    body: {
      ...okV1(),
      messages: Array.from({ length: MAX_MESSAGES + 1 }, () => ({ role: 'user', content: 'a' })),
    },
  });
  out.push({
    name: '5000 stop sequences',
    path: '/v1/chat/completions',
    body: { ...okV1(), stop: Array.from({ length: 5000 }, () => 's') },
  });
  out.push({
    name: '10000 empty tools',
    path: '/v1/chat/completions',
    body: { ...okV1(), tools: Array.from({ length: 10_000 }, () => ({})) },
  });
  out.push({
    name: 'huge array of numbers',
    path: '/v1/chat/completions',
    body: { ...okV1(), messages: Array.from({ length: 20_000 }, (_, i) => i) },
  });
  out.push({
    status: 413,
    name: 'a model name over the body limit',
    path: '/v1/chat/completions',
    body: { ...okV1(), model: 'm'.repeat(BODY_LIMIT_BYTES) },
  });
  return out;
}

function wrongTypes(): Hostile[] {
  const values: Record<string, unknown> = {
    number: 42,
    negative: -1,
    fraction: 0.5,
    string: 'str',
    numericString: '1',
    true: true,
    emptyArray: [],
    array: [1, 'a'],
    emptyObject: {},
    object: { a: 1 },
  };
  // Which of the values above each field accepts (everything else must be a 400).
  const accepts: Record<string, string[]> = {
    model: ['string', 'numericString'],
    messages: [],
    temperature: ['number', 'fraction'].filter((v) => v !== 'number'),
    top_p: ['fraction'],
    n: [],
    stream: ['true'],
    stop: ['string', 'numericString', 'emptyArray'],
    max_tokens: ['number'],
    max_completion_tokens: ['number'],
    presence_penalty: ['fraction', 'negative'],
    frequency_penalty: ['fraction', 'negative'],
    logit_bias: ['emptyObject', 'object'],
    user: ['string', 'numericString'],
    seed: ['number', 'negative'],
    tools: ['emptyArray'],
    tool_choice: ['emptyObject', 'object'],
    response_format: [],
    stream_options: ['emptyObject', 'object'],
    cache: ['emptyObject'],
  };
  const chatAccepts: Record<string, string[]> = {
    message: ['string', 'numericString'],
    conversationId: [],
    model: ['string', 'numericString'],
    temperature: ['fraction'],
    max_tokens: ['number'],
  };
  const out: Hostile[] = [];
  for (const [field, ok] of Object.entries(accepts)) {
    for (const [name, value] of Object.entries(values)) {
      if (ok.includes(name)) continue;
      out.push({
        name: `${field} as ${name}`,
        path: '/v1/chat/completions',
        body: { ...okV1(), [field]: value },
      });
    }
  }
  for (const [field, ok] of Object.entries(chatAccepts)) {
    for (const [name, value] of Object.entries(values)) {
      if (ok.includes(name)) continue;
      out.push({ name: `/chat ${field} as ${name}`, path: '/chat', body: { ...okChat(), [field]: value } });
    }
  }
  // Messages themselves: each message field with each wrong value.
  for (const [field, ok] of Object.entries({
    role: [] as string[],
    content: ['string', 'numericString'],
    tool_calls: ['emptyArray'],
  })) {
    for (const [name, value] of Object.entries(values)) {
      if (ok.includes(name)) continue;
      out.push({
        name: `messages[0].${field} as ${name}`,
        path: '/v1/chat/completions',
        body: { ...okV1(), messages: [{ role: 'user', content: 'hi', [field]: value }] },
      });
    }
  }
  // The whole body as each wrong type.
  for (const [name, value] of Object.entries(values)) {
    if (name === 'emptyObject' || name === 'object') continue;
    for (const path of ['/v1/chat/completions', '/chat'] as Path[])
      out.push({ name: `body as ${name}`, path, body: JSON.stringify(value) });
  }
  return out;
}

function headerInjection(): Hostile[] {
  const out: Hostile[] = [];
  const cacheControls = [
    'max-age=abc',
    'max-age=-1',
    'max-age=1e309',
    'max-age=1.5',
    'max-age=',
    'max-age=0x10',
    'no-cache, max-age=nope',
    `max-age=${'9'.repeat(2000)}`,
    'x'.repeat(2000),
    'max-age="1; DROP TABLE"',
  ];
  const authorizations = [
    '',
    'Bearer',
    'Bearer  ',
    `Bearer ${ACME}x`,
    `Bearer ${ACME.slice(0, -1)}`,
    `Bearer ${ACME.toUpperCase()}`,
    `Bearer ${ACME},Bearer ${GLOBEX}`,
    `Bearer ${ACME} ${GLOBEX}`,
    `Basic ${Buffer.from(`acme:${ACME}`).toString('base64')}`,
    ACME,
    `Bearer ${'k'.repeat(8000)}`,
    'Bearer null',
    'Bearer undefined',
    "Bearer ' OR '1'='1",
    'Bearer ../../../../etc/passwd',
    'Bearer %00',
    'Bearer ${jndi:ldap://127.0.0.1/a}',
    `Bearer ${ACME}\u00ff`,
  ];
  for (const path of ['/v1/chat/completions', '/chat'] as Path[]) {
    const body = path === '/chat' ? okChat('header probe') : okV1('header probe');
    for (const cc of cacheControls)
      out.push({
        name: `Cache-Control ${cc.slice(0, 30)}`,
        path,
        body,
        headers: { ...auth(), 'cache-control': cc },
      });
    for (const a of authorizations)
      out.push({ name: `Authorization ${a.slice(0, 30)}`, path, body, headers: { authorization: a } });
  }
  return out;
}

function framing(): Hostile[] {
  const out: Hostile[] = [];
  const full = JSON.stringify({ ...okV1('truncate me please'), temperature: 0.2, stop: ['a', 'b'] });
  for (let cut = 1; cut < full.length; cut += 3) {
    out.push({ name: `v1 body truncated at ${cut}`, path: '/v1/chat/completions', body: full.slice(0, cut) });
  }
  const chat = JSON.stringify({ message: 'truncate me too', temperature: 0.5 });
  for (let cut = 1; cut < chat.length; cut += 2)
    out.push({ name: `/chat body truncated at ${cut}`, path: '/chat', body: chat.slice(0, cut) });
  for (const [name, text] of [
    ['trailing garbage', `${full} x`],
    ['two bodies', `${full}${full}`],
    ['a BOM and garbage', '\ufeff{"a":'],
    ['single quotes', "{'model':'fake-model'}"],
    ['NaN', '{"model":"fake-model","messages":[],"temperature":NaN}'],
    ['a comment', '{"model":"fake-model" /* hi */}'],
  ]) {
    for (const path of ['/v1/chat/completions', '/chat'] as Path[]) out.push({ name, path, body: text });
  }
  return out;
}

// ---------------------------------------------------------------- the suite

describe('hostile input and cross-tenant probes against the real chatbot', () => {
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  let port: number;

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAiServer().start();
    bot = await startChatbot(
      upstreamEnv(redis.url, fake.baseURL, {
        CHATBOT_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
        BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
        MAX_MESSAGE_CHARS: String(MAX_MESSAGE_CHARS),
        MAX_MESSAGES: String(MAX_MESSAGES),
        REDIS_COMMAND_TIMEOUT_MS: '1000',
      }),
    );
    port = Number(new URL(bot.url).port);
  });
  afterAll(async () => {
    agent.destroy();
    await bot?.close();
    await fake?.stop();
    await redis?.stop();
  });

  it('answers ≥ 1,000 generated hostile requests with a 4xx in the OpenAI shape, no 5xx, no upstream call', async () => {
    const cases = [
      ...prototypeKeys(),
      ...deepNesting(),
      ...numbers(),
      ...encodings(),
      ...sizes(),
      ...wrongTypes(),
      ...headerInjection(),
      ...framing(),
    ].map((c) => ({ ...c, headers: c.headers ?? auth() }));
    fake.reset();
    const answers = await pool(cases, CONCURRENCY, (c) => send(bot.url, c.path, c.body, c.headers));
    const counts = { total: answers.length, '4xx': 0, '5xx': 0, other: 0, badShape: 0 };
    const failures: string[] = [];
    answers.forEach((a, i) => {
      const bucket = a.status >= 400 && a.status < 500 ? '4xx' : a.status >= 500 ? '5xx' : 'other';
      counts[bucket]++;
      const problem = openAiShapeProblem(a.text);
      if (problem) counts.badShape++;
      if (bucket !== '4xx' || problem || (cases[i].status !== undefined && a.status !== cases[i].status))
        failures.push(
          `${cases[i].path} ${cases[i].name}: ${a.status} ${problem ?? ''} ${a.text.slice(0, 160)}`,
        );
    });
    console.log(`hostile requests: ${JSON.stringify(counts)}; upstream calls: ${fake.callCount}`);
    if (failures.length)
      console.log(`not a 4xx in the OpenAI shape (${failures.length}):\n${failures.slice(0, 60).join('\n')}`);
    expect(counts.total).toBeGreaterThanOrEqual(1000);
    expect(failures).toEqual([]);
    expect(fake.callCount).toBe(0);
  });

  it('answers what an HTTP client would refuse to send (control characters in headers, lying Content-Length, slow bodies) with a 4xx, and keeps serving', async () => {
    const head = (extra: string, body: string, length = Buffer.byteLength(body)) =>
      Buffer.from(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${ACME}\r\n${extra}Content-Length: ${length}\r\nConnection: close\r\n\r\n${body}`,
      );
    const valid = JSON.stringify(okV1('raw socket'));
    const hostileBody =
      '{"model":"fake-model","messages":[{"role":"user","content":"hi","__proto__":{"x":1}}]}';
    fake.reset();
    const raw: Array<[string, Promise<string>]> = [
      ['NUL in Cache-Control', sendRaw(port, [head('Cache-Control: no-cache\0\r\n', valid)])],
      [
        'NUL in Authorization',
        sendRaw(port, [
          Buffer.from(head('', valid).toString().replace(`Bearer ${ACME}`, `Bearer ${ACME}\0`)),
        ]),
      ],
      ['a bare CR in a header', sendRaw(port, [head('Cache-Control: no-cache\rX-Injected: 1\r\n', valid)])],
      ['Content-Length shorter than the body', sendRaw(port, [head('', `${valid}xxxxxxxx`, 20)])],
      ['two Content-Lengths', sendRaw(port, [head(`Content-Length: 5\r\n`, valid)])],
      ['a negative Content-Length', sendRaw(port, [head('', valid, -1)])],
      ...Array.from({ length: 6 }, (_, i): [string, Promise<string>] => {
        // A hostile body trickled in 12 pieces over ~360 ms.
        const bytes = Buffer.from(hostileBody);
        const pieces = Array.from({ length: 12 }, (_, j) =>
          bytes.subarray(Math.floor((j * bytes.length) / 12), Math.floor(((j + 1) * bytes.length) / 12)),
        );
        const headOnly = head('', '', bytes.length);
        return [`slow hostile body #${i}`, sendRaw(port, [headOnly, ...pieces], 30)];
      }),
    ];
    const results = await Promise.all(raw.map(async ([name, p]) => [name, await p] as const));
    const failures: string[] = [];
    for (const [name, text] of results) {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      const problem = openAiShapeProblem(body);
      if (status < 400 || status >= 500 || problem)
        failures.push(`${name}: ${status} ${problem ?? ''} ${text.slice(0, 200)}`);
    }
    console.log(
      `raw hostile requests: ${results.length}, failures: ${failures.length}; upstream calls: ${fake.callCount}`,
    );
    expect(failures).toEqual([]);
    expect(fake.callCount).toBe(0);
    // Still serving.
    expect((await send(bot.url, '/v1/chat/completions', okV1('still alive'), auth())).status).toBe(200);
  });

  it('serves no answer across tenants in ≥ 1,000 probes (streamed and not, /chat and /v1, concurrent and sequential)', async () => {
    fake.reset();
    type Kind = 'v1' | 'v1-stream' | 'chat';
    const kinds: Kind[] = ['v1', 'v1-stream', 'chat'];
    const ask = async (kind: Kind, key: string, prompt: string, headers: Record<string, string> = {}) => {
      const a =
        kind === 'chat'
          ? await send(bot.url, '/chat', okChat(prompt), { ...auth(key), ...headers })
          : await send(
              bot.url,
              '/v1/chat/completions',
              { ...okV1(prompt), stream: kind === 'v1-stream' },
              { ...auth(key), ...headers },
            );
      if (a.status !== 200 && a.status !== 504)
        throw new Error(`${kind} ${a.status}: ${a.text.slice(0, 200)}`);
      const cached =
        a.status === 200 &&
        (kind === 'chat' ? JSON.parse(a.text).cached === true : a.headers['x-cache'] === 'HIT');
      return { status: a.status, cached };
    };
    const onlyIfCached = { 'cache-control': 'only-if-cached' };
    const PROMPTS = 240;
    const prompts = Array.from({ length: PROMPTS }, (_, i) => ({
      kind: kinds[i % 3],
      prompt: `tenant probe ${i}${i % 7 === 0 ? ' same words for everyone' : ''}`,
      owner: i % 4 < 2 ? ACME : GLOBEX,
      other: i % 4 < 2 ? GLOBEX : ACME,
      concurrent: i % 2 === 0,
    }));
    let probes = 0;
    let crossServed = 0;
    const start = Date.now();
    // 1. The owner asks (a miss, stored); for half the prompts the other tenant asks at the same moment, so it
    //    meets the owner's flight (coalescing) if keys were shared.
    await pool(prompts, CONCURRENCY, async (p) => {
      const [mine, theirs] = await Promise.all([
        ask(p.kind, p.owner, p.prompt),
        p.concurrent ? ask(p.kind, p.other, p.prompt) : undefined,
      ]);
      if (mine.cached) crossServed++;
      if (theirs) {
        probes += 2;
        if (theirs.cached) crossServed++;
      }
    });
    // 2. The tenant that never asked probes every entry with only-if-cached (504 unless it is served an entry),
    //    spelled four ways, streamed and not on /v1 (one key), and on /chat.
    const sequential = prompts.filter((p) => !p.concurrent);
    const controls = [
      'only-if-cached',
      'only-if-cached, max-age=86400',
      'max-age=1000000, only-if-cached',
      'ONLY-IF-CACHED',
    ];
    const variants = (p: (typeof prompts)[number]) =>
      controls.flatMap((cc) =>
        (p.kind === 'chat' ? (['chat', 'chat'] as Kind[]) : (['v1', 'v1-stream'] as Kind[])).map((kind) => ({
          ...p,
          kind,
          cc,
        })),
      );
    await pool(sequential.flatMap(variants), CONCURRENCY, async (p) => {
      probes++;
      const r = await ask(p.kind, p.other, p.prompt, { 'cache-control': p.cc });
      if (r.status !== 504 || r.cached) crossServed++;
    });
    // Every concurrent pair's tenants probe each other's entry too (each holds one of its own now).
    await pool(
      prompts.filter((p) => p.concurrent),
      CONCURRENCY,
      async (p) => {
        const r = await ask(
          p.kind === 'v1' ? 'v1-stream' : p.kind === 'v1-stream' ? 'v1' : 'chat',
          p.other,
          p.prompt,
          onlyIfCached,
        );
        // The other tenant asked this prompt itself in step 1: its own entry, never the owner's.
        if (r.status !== 200) throw new Error(`expected the other tenant's own entry, got ${r.status}`);
      },
    );
    // 3. Control: the owner's only-if-cached is served from its entry, so a shared entry would have been seen.
    let ownerHits = 0;
    await pool(prompts, CONCURRENCY, async (p) => {
      if ((await ask(p.kind, p.owner, p.prompt, onlyIfCached)).cached) ownerHits++;
    });
    console.log(
      `cross-tenant probes: ${probes}, served across tenants: ${crossServed}, owners served from their own entry: ${ownerHits}/${PROMPTS}, upstream calls: ${fake.callCount}, ${Date.now() - start} ms`,
    );
    expect(probes).toBeGreaterThanOrEqual(1000);
    expect(crossServed).toBe(0);
    expect(ownerHits).toBe(PROMPTS);
    // One upstream call per tenant and prompt asked, none for a probe.
    expect(fake.callCount).toBe(PROMPTS + PROMPTS / 2);
  }, 90_000);
});
