/**
 * Bench-only preload (`node --import <this file>` before bench-server.js) that times each step of a cached LLM call
 * inside the real app process: it wraps the prototypes of the roles `LlmCacheService` is built from, so the app's
 * code runs unchanged. One call in flight at a time (the split runner sends requests sequentially), so a step's time
 * is simply added to the current request's record. `GET /__miss-split` answers the records collected since the last
 * read (and forgets them); every other request goes to the app.
 *
 * A step's time is wall time from its call until its promise settles (a Redis step: the round trip plus the event
 * loop's turn). `cacheCall` is the whole cached call as the request waits for it; a step that runs on after it
 * (`redisStore`: the store's round trip, which the request no longer waits for) is not on the critical path.
 */
import { Server, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  LlmCacheAccounting,
  LlmCacheEntries,
  LlmCacheService,
  LlmCallCoordinator,
  LlmUpstream,
  OpenAiProvider,
} from '@llm-cache/llm';

// Not exported by the package (internal): the same module instance the app uses, beside the package's entry point.
const { RedisBackend } = (await import(
  new URL('./redis.backend.js', import.meta.resolve('@llm-cache/redis-cache')).href
)) as { RedisBackend: { prototype: object } };

type Record_ = Record<string, number>;
let current: Record_ | undefined;
let records: Record_[] = [];
let cpuStart = process.cpuUsage();

/** Adds `ms` to `name` on the current record (several calls of one step add up). */
function add(name: string, ms: number, record = current): void {
  if (record) record[name] = (record[name] ?? 0) + ms;
}

/** Wraps `proto[method]` so that its time (sync or until its promise settles) is added to `name`. */
function time(proto: object, method: string, name: string): void {
  const target = proto as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method];
  if (typeof original !== 'function') throw new Error(`miss-split probe: no method ${method} to wrap`);
  target[method] = function (this: unknown, ...args: unknown[]) {
    const record = current;
    const t0 = performance.now();
    const out = original.apply(this, args);
    if (out && typeof (out as Promise<unknown>).then === 'function') {
      return (out as Promise<unknown>).finally(() => add(name, performance.now() - t0, record));
    }
    add(name, performance.now() - t0, record);
    return out;
  };
}

const P = (c: { prototype: object }) => c.prototype;
time(P(LlmCacheService), 'plan', 'plan');
time(P(LlmCacheService), 'completeWithCache', 'cacheCall');
time(P(LlmCacheEntries), 'lookup', 'lookup');
time(P(LlmCallCoordinator), 'acquire', 'lockScript');
time(P(LlmUpstream), 'complete', 'upstreamCall');
time(P(OpenAiProvider), 'complete', 'sdkCall');
time(P(LlmCacheEntries), 'create', 'entryCreate');
// Until the store is sent (what the request waits for); `redisStore` below runs on until Redis' reply.
time(P(LlmCacheEntries), 'sendStoreAndUnlock', 'storeSend');
time(P(LlmCacheEntries), 'sendStore', 'storeSend');
time(P(LlmCacheAccounting), 'finish', 'accounting');
time(P(RedisBackend), 'get', 'redisGet');
time(P(RedisBackend), 'lockUnlessPresent', 'redisLock');
time(P(RedisBackend), 'setAndDeleteIfEquals', 'redisStore');

/**
 * `x-miss-split-await-store: 1` makes the request's `generateTextWithCache` wait for Redis' reply to its store
 * (`awaitStore: true`): the miss as it was before the store left the critical path, in the same process, for an A/B.
 */
let awaitStore = false;
const generate = LlmCacheService.prototype.generateTextWithCache;
LlmCacheService.prototype.generateTextWithCache = function (
  this: LlmCacheService,
  request,
  provider,
  options,
) {
  return generate.call(this, request, provider, awaitStore ? { ...options, awaitStore: true } : options);
};

const emit = Server.prototype.emit as (this: Server, event: string, ...args: unknown[]) => boolean;
(Server.prototype as { emit: typeof emit }).emit = function (
  this: Server,
  event: string,
  ...args: unknown[]
) {
  if (event !== 'request') return emit.call(this, event, ...args);
  const [req, res] = args as [IncomingMessage, ServerResponse];
  if (req.url === '/__miss-split') {
    const cpu = process.cpuUsage(cpuStart);
    const body = JSON.stringify({ records, cpuMs: (cpu.user + cpu.system) / 1000 });
    records = [];
    cpuStart = process.cpuUsage();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return true;
  }
  const record: Record_ = {};
  current = record;
  awaitStore = req.headers['x-miss-split-await-store'] === '1';
  const t0 = performance.now();
  res.once('finish', () => {
    add('inApp', performance.now() - t0, record);
    records.push(record);
    if (current === record) current = undefined;
  });
  return emit.call(this, event, ...args);
};
