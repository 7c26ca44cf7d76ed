import { Agent, request } from 'node:http';

export interface TimedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Time to the response head (first byte), ms. */
  ttfbMs: number;
  /** Time to the last byte, ms. */
  totalMs: number;
}

export interface HttpTarget {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One request to 127.0.0.1 (the only address benchmarks talk to), timed with the high-resolution clock. */
export function timedRequest(target: HttpTarget, timeoutMs = 30_000): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.path,
        method: target.method ?? 'POST',
        agent,
        headers: { 'content-type': 'application/json', ...(target.headers ?? {}) },
        timeout: timeoutMs,
      },
      (res) => {
        let ttfbMs = -1;
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => {
          if (ttfbMs < 0) ttfbMs = performance.now() - start;
          parts.push(d);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts).toString('utf8'),
            ttfbMs: ttfbMs < 0 ? performance.now() - start : ttfbMs,
            totalMs: performance.now() - start,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(target.body);
  });
}

/**
 * Sends `count` requests with `concurrency` in flight, bounded by `maxDurationMs`. Returns per-request latencies
 * (ms) and the number of non-2xx answers or transport errors.
 */
export async function runClosedLoop(
  makeTarget: (i: number) => HttpTarget,
  count: number,
  concurrency: number,
  maxDurationMs = 60_000,
  requestTimeoutMs = 30_000,
): Promise<{
  latenciesMs: number[];
  errors: number;
  statuses: Record<number, number>;
  failures: Record<string, number>;
  elapsedMs: number;
}> {
  const latenciesMs: number[] = [];
  const statuses: Record<number, number> = {};
  const failures: Record<string, number> = {};
  let errors = 0;
  let next = 0;
  const deadline = performance.now() + maxDurationMs;
  const start = performance.now();
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      try {
        const res = await timedRequest(makeTarget(i), requestTimeoutMs);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 400) errors++;
        latenciesMs.push(res.totalMs);
      } catch (err) {
        errors++;
        const kind = /timeout/i.test((err as Error).message) ? 'timeout' : (err as Error).message;
        failures[kind] = (failures[kind] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { latenciesMs, errors, statuses, failures, elapsedMs: performance.now() - start };
}

export async function getJson<T>(port: number, path: string, method = 'GET'): Promise<T> {
  const res = await timedRequest({ port, path, method });
  return JSON.parse(res.body) as T;
}

export function closeAgent(): void {
  agent.destroy();
}
