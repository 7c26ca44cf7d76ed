import { stripVTControlCharacters } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChatbotLogger } from './chatbot-logger.js';
import { requestIdFrom, requestIdMiddleware } from './request-context.js';

const written: string[] = [];
const originalWrite = process.stdout.write.bind(process.stdout);

function capture(): void {
  written.length = 0;
  process.stdout.write = ((chunk: string) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
}

afterEach(() => {
  process.stdout.write = originalWrite;
});

/** Runs `fn` the way a request's handlers run: inside the context the request-id middleware opened. */
function inRequest(header: string | undefined, fn: () => void): string {
  const req = { headers: header === undefined ? {} : { 'x-request-id': header } } as IncomingMessage;
  let answered = '';
  const res = { setHeader: (_: string, v: string) => (answered = v) } as unknown as ServerResponse;
  requestIdMiddleware(req, res, fn);
  return answered;
}

describe('ChatbotLogger', () => {
  it('writes one JSON object per line, without ANSI, stamped with the request id inside a request', () => {
    const logger = new ChatbotLogger({ json: true });
    capture();
    const id = inRequest('trace-1', () => logger.warn('upstream slow', 'Upstream'));
    logger.log('outside any request', 'Boot');
    process.stdout.write = originalWrite;
    expect(id).toBe('trace-1');
    const lines = written.join('').trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(stripVTControlCharacters(line)).toBe(line);
    const [inside, outside] = lines.map((l) => JSON.parse(l));
    expect(inside).toMatchObject({
      level: 'warn',
      context: 'Upstream',
      message: 'upstream slow',
      requestId: 'trace-1',
    });
    expect(outside.requestId).toBeUndefined();
  });

  it('prefixes text lines with the request id', () => {
    const logger = new ChatbotLogger({ json: false });
    capture();
    inRequest('trace-2', () => logger.log('hello', 'Chat'));
    process.stdout.write = originalWrite;
    expect(stripVTControlCharacters(written.join(''))).toContain('[Chat] [req trace-2] hello');
  });
});

describe('requestIdFrom', () => {
  it('keeps a sane caller id and replaces anything else with a UUID', () => {
    expect(requestIdFrom('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    for (const bad of ['', 'has space', 'a\r\nSet-Cookie: x', 'x'.repeat(129), '<script>', undefined]) {
      expect(requestIdFrom(bad)).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
