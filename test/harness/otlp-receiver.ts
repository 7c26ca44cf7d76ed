/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1 for the tracing e2e: accepts `POST /v1/traces` as `http/json`
 * (application/json) or `http/protobuf` (application/x-protobuf), decodes both into one span shape and keeps them.
 * The protobuf side is a minimal wire-format reader for the fields the tests look at (opentelemetry-proto's
 * trace/v1 and common/v1 messages), so no generated code or extra dependency is needed.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string }>;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  scope: string;
  resource: Record<string, unknown>;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Content types of the export requests received, to prove which protocol the exporter used. */
  readonly contentTypes: string[] = [];
  private server?: Server;

  get endpoint(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        (status) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end('{}');
        },
        (err: Error) => {
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end(err.message);
        },
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Waits until `predicate` holds for the spans received so far (the exporter batches), bounded in time. */
  async waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs = 20_000): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.spans)) {
      if (Date.now() > deadline) {
        const names = this.spans.map((s) => s.name).join(', ');
        throw new Error(`timed out after ${timeoutMs} ms; spans received: ${names || 'none'}`);
      }
      await sleep(50);
    }
    return this.spans;
  }

  private async handle(req: IncomingMessage): Promise<number> {
    if (req.method !== 'POST' || req.url !== '/v1/traces') return 404;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
    this.contentTypes.push(type);
    if (type === 'application/json') this.spans.push(...fromJson(JSON.parse(body.toString('utf8'))));
    else if (type === 'application/x-protobuf') this.spans.push(...fromProtobuf(body));
    else throw new Error(`unsupported content-type ${type}`);
    return 200;
  }
}

// ---- http/json (OTLP JSON: ids as hex strings, int64 as strings) ----

type JsonAnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
};
type JsonKeyValue = { key: string; value: JsonAnyValue };

function jsonValue(v: JsonAnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(jsonValue);
  return undefined;
}

const jsonAttributes = (list: JsonKeyValue[] = []) =>
  Object.fromEntries(list.map((kv) => [kv.key, jsonValue(kv.value)]));

function fromJson(request: {
  resourceSpans?: Array<{
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: Array<{
      scope?: { name?: string };
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        attributes?: JsonKeyValue[];
        links?: Array<{ traceId: string; spanId: string }>;
        status?: { code?: number };
      }>;
    }>;
  }>;
}): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind ?? 0,
          attributes: jsonAttributes(s.attributes),
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
          statusCode: s.status?.code ?? 0,
          scope: ss.scope?.name ?? '',
          resource,
        });
      }
    }
  }
  return out;
}

// ---- http/protobuf: just enough of the wire format ----

type Field = { no: number; wire: number; value: bigint | Buffer };

function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 1) {
      yield { no, wire, value: buf.readBigUInt64LE(pos) };
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      yield { no, wire, value: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 5) {
      yield { no, wire, value: BigInt(buf.readUInt32LE(pos)) };
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

const bytesOf = (f: Field) => f.value as Buffer;

function anyValue(buf: Buffer): unknown {
  for (const f of fields(buf)) {
    if (f.no === 1) return bytesOf(f).toString('utf8');
    if (f.no === 2) return f.value === 1n;
    if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint));
    if (f.no === 4) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(f.value as bigint);
      return b.readDoubleLE(0);
    }
    if (f.no === 5) return [...fields(bytesOf(f))].filter((v) => v.no === 1).map((v) => anyValue(bytesOf(v)));
  }
  return undefined;
}

function keyValue(buf: Buffer): [string, unknown] {
  let key = '';
  let value: unknown;
  for (const f of fields(buf)) {
    if (f.no === 1) key = bytesOf(f).toString('utf8');
    if (f.no === 2) value = anyValue(bytesOf(f));
  }
  return [key, value];
}

function span(buf: Buffer, scope: string, resource: Record<string, unknown>): ReceivedSpan {
  const s: ReceivedSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    attributes: {},
    links: [],
    statusCode: 0,
    scope,
    resource,
  };
  for (const f of fields(buf)) {
    if (f.no === 1) s.traceId = bytesOf(f).toString('hex');
    else if (f.no === 2) s.spanId = bytesOf(f).toString('hex');
    else if (f.no === 4) s.parentSpanId = bytesOf(f).toString('hex');
    else if (f.no === 5) s.name = bytesOf(f).toString('utf8');
    else if (f.no === 6) s.kind = Number(f.value);
    else if (f.no === 9) {
      const [k, v] = keyValue(bytesOf(f));
      s.attributes[k] = v;
    } else if (f.no === 13) {
      const link = { traceId: '', spanId: '' };
      for (const lf of fields(bytesOf(f))) {
        if (lf.no === 1) link.traceId = bytesOf(lf).toString('hex');
        if (lf.no === 2) link.spanId = bytesOf(lf).toString('hex');
      }
      s.links.push(link);
    } else if (f.no === 15) {
      for (const sf of fields(bytesOf(f))) if (sf.no === 3) s.statusCode = Number(sf.value);
    }
  }
  return s;
}

function fromProtobuf(buf: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of fields(buf)) {
    if (rs.no !== 1) continue;
    let resource: Record<string, unknown> = {};
    const scopeSpans: Buffer[] = [];
    for (const f of fields(bytesOf(rs))) {
      if (f.no === 1)
        resource = Object.fromEntries(
          [...fields(bytesOf(f))].filter((a) => a.no === 1).map((a) => keyValue(bytesOf(a))),
        );
      if (f.no === 2) scopeSpans.push(bytesOf(f));
    }
    for (const ss of scopeSpans) {
      let scope = '';
      const spans: Buffer[] = [];
      for (const f of fields(ss)) {
        if (f.no === 1)
          for (const sf of fields(bytesOf(f))) if (sf.no === 1) scope = bytesOf(sf).toString('utf8');
        if (f.no === 2) spans.push(bytesOf(f));
      }
      for (const s of spans) out.push(span(s, scope, resource));
    }
  }
  return out;
}
