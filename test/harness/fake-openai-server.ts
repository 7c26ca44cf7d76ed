/**
 * A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks: `POST /v1/chat/completions`
 * (JSON and SSE streaming, tool calls, usage), `GET /v1/models`. It counts calls, can be slow, and returns errors
 * or breaks streams on demand. Self-contained, erasable TypeScript: also runs as
 * `node test/harness/fake-openai-server.ts --port 0 --latency-ms 50` (prints `listening <port>`).
 *
 * Per-request behaviour is chosen by the last user message:
 *   `__status_<code>__`     → that HTTP error with an OpenAI error body (e.g. __status_429__)
 *   `__stream_error__`      → a streamed response that sends an `error` event after two chunks
 *   `__stream_cut__`        → a streamed response whose connection is destroyed after two chunks
 *   `__tool__`              → the model answers with a tool call to `get_weather`
 *   `__length__`            → finish_reason "length"
 *   `__slow_<ms>__`         → extra latency before answering
 *   `__stall_after_<n>__`   → a streamed response that sends n chunks, then neither sends nor closes (a hung upstream)
 *   `__malformed__`         → a 200 whose JSON body is `{}` (no `choices`); streamed, chunks without `choices`
 * Out of band: `GET /__stats` → `{ calls, streamed }`, `POST /__reset` zeroes them.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FakeOpenAiOptions {
  /** Latency before the first byte of every answer. */
  latencyMs?: number;
  /** Delay between streamed chunks. */
  chunkDelayMs?: number;
  /** Required `Authorization: Bearer <apiKey>`; unset → any key accepted. */
  apiKey?: string;
}

export interface RecordedCall {
  body: any;
  stream: boolean;
  authorization?: string;
  /** The caller closed the connection before the answer was complete (it stopped paying for it). */
  cutOff?: boolean;
}

export class FakeOpenAiServer {
  calls: RecordedCall[] = [];
  latencyMs: number;
  chunkDelayMs: number;
  apiKey?: string;
  port = 0;
  private server?: Server;
  private sockets = new Set<import('node:net').Socket>();

  constructor(options: FakeOpenAiOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.chunkDelayMs = options.chunkDelayMs ?? 0;
    this.apiKey = options.apiKey;
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Number of chat completion calls received. */
  get callCount(): number {
    return this.calls.length;
  }

  reset(): void {
    this.calls = [];
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    // Out-of-band counters for benchmarks that run this server in another process.
    if (url === '/__stats')
      return json(res, 200, { calls: this.callCount, streamed: this.calls.filter((c) => c.stream).length });
    if (url === '/__reset' && req.method === 'POST') {
      this.reset();
      return json(res, 200, { calls: 0 });
    }
    if (req.method === 'GET' && url.startsWith('/v1/models')) {
      return json(res, 200, {
        object: 'list',
        data: [{ id: 'fake-model', object: 'model', owned_by: 'fake' }],
      });
    }
    if (req.method !== 'POST' || !url.startsWith('/v1/chat/completions')) {
      return json(res, 404, errorBody('not found', 'invalid_request_error'));
    }
    if (this.apiKey && req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return json(
        res,
        401,
        errorBody('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key'),
      );
    }
    let body: any;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return json(
        res,
        400,
        errorBody('We could not parse the JSON body of your request.', 'invalid_request_error'),
      );
    }
    const stream = body.stream === true;
    const call: RecordedCall = {
      body: this.calls.length < 10_000 ? body : undefined,
      stream,
      authorization: req.headers.authorization,
    };
    this.calls.push(call);
    res.once('close', () => {
      if (!res.writableFinished) call.cutOff = true;
    });
    const lastUser = [...(body.messages ?? [])].reverse().find((m: any) => m.role === 'user');
    const text =
      typeof lastUser?.content === 'string' ? lastUser.content : JSON.stringify(lastUser?.content ?? '');
    const slow = /__slow_(\d+)__/.exec(text);
    const delayMs = this.latencyMs + (slow ? Number(slow[1]) : 0);
    if (delayMs > 0) await sleep(delayMs); // zero latency costs no macrotask
    if (res.destroyed || req.socket.destroyed) return;

    const status = /__status_(\d{3})__/.exec(text);
    if (status) {
      const code = Number(status[1]);
      return json(
        res,
        code,
        errorBody(`upstream says ${code}`, code === 429 ? 'rate_limit_exceeded' : 'server_error'),
      );
    }

    if (text.includes('__malformed__')) {
      if (!stream) return json(res, 200, {});
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(`data: ${JSON.stringify({ id: 'chatcmpl-malformed', object: 'chat.completion.chunk' })}\n\n`);
      res.write('data: [DONE]\n\n');
      return void res.end();
    }

    const model = String(body.model ?? 'fake-model');
    const id = 'chatcmpl-' + createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 24);
    const created = Math.floor(Date.now() / 1000);
    const answer = answerFor(body);
    const promptTokens = Math.max(1, Math.ceil(JSON.stringify(body.messages ?? []).length / 4));
    const completionTokens = Math.max(1, answer.split(/\s+/).length);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const finish = text.includes('__tool__') ? 'tool_calls' : text.includes('__length__') ? 'length' : 'stop';
    const toolCall = {
      id: 'call_' + id.slice(9, 21),
      type: 'function',
      function: { name: 'get_weather', arguments: JSON.stringify({ city: 'Paris', unit: 'celsius' }) },
    };

    if (!stream) {
      const message =
        finish === 'tool_calls'
          ? { role: 'assistant', content: null, tool_calls: [toolCall], refusal: null }
          : { role: 'assistant', content: answer, refusal: null };
      return json(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        system_fingerprint: 'fp_fake',
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
        usage,
      });
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake' };
    const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    const chunks: any[] = [
      { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
    ];
    if (finish === 'tool_calls') {
      chunks.push({
        index: 0,
        delta: {
          tool_calls: [
            { index: 0, id: toolCall.id, type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        },
        finish_reason: null,
      });
      const args = toolCall.function.arguments;
      for (let i = 0; i < args.length; i += 12) {
        chunks.push({
          index: 0,
          delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(i, i + 12) } }] },
          finish_reason: null,
        });
      }
    } else {
      for (const piece of answer.match(/\S+\s*/g) ?? [answer]) {
        chunks.push({ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null });
      }
    }
    const stallAfter = /__stall_after_(\d+)__/.exec(text);
    for (let i = 0; i < chunks.length; i++) {
      if (res.destroyed) return;
      // Hold the connection open without another byte; stop() destroys the socket.
      if (stallAfter && i === Number(stallAfter[1])) return;
      if (i === 2 && text.includes('__stream_error__')) {
        send({ error: { message: 'upstream broke mid-stream', type: 'server_error', code: null } });
        return void res.end();
      }
      if (i === 2 && text.includes('__stream_cut__')) {
        return void res.destroy();
      }
      send({ ...base, choices: [chunks[i]] });
      if (this.chunkDelayMs) await sleep(this.chunkDelayMs);
    }
    send({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finish }] });
    if (body.stream_options?.include_usage) send({ ...base, choices: [], usage });
    res.write('data: [DONE]\n\n');
    res.end();
  }
}

/** Deterministic answer derived from the whole request, so a changed field changes the answer. */
function answerFor(body: any): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(body.messages ?? []))
    .digest('hex')
    .slice(0, 8);
  const last = [...(body.messages ?? [])].reverse().find((m: any) => m.role === 'user');
  const said = typeof last?.content === 'string' ? last.content.slice(0, 60) : 'your message';
  const n = Math.max(1, Math.min(Number(body.max_tokens) || 24, 24));
  const words =
    `You said: ${said}. This is answer ${digest} from the fake upstream model, short and deterministic.`.split(
      ' ',
    );
  return words.slice(0, Math.max(n, 6)).join(' ');
}

function errorBody(message: string, type: string, code: string | null = null) {
  return { error: { message, type, param: null, code } };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

// Standalone: `node test/harness/fake-openai-server.ts --port 0 --latency-ms 50 [--chunk-delay-ms 5]`.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const server = new FakeOpenAiServer({
    latencyMs: arg('--latency-ms', 0),
    chunkDelayMs: arg('--chunk-delay-ms', 0),
  });
  await server.start(arg('--port', 0));
  process.stdout.write(`listening ${server.port}\n`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
