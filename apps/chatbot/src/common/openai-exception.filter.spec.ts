import { describe, expect, it } from '@jest/globals';
import { type ArgumentsHost, BadRequestException, Logger, NotFoundException } from '@nestjs/common';
import { LlmCacheMissError, LlmProviderError } from '@llm-cache/llm';
import { OpenAiExceptionFilter } from './openai-exception.filter.js';

/** Runs the filter against a recording response and returns what it sent. */
function render(exception: unknown, opts: { headersSent?: boolean; routed?: boolean } = {}) {
  const sent: { status?: number; body?: any; ended: boolean } = { ended: false };
  const res = {
    headersSent: opts.headersSent ?? false,
    writableEnded: false,
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: unknown) {
      sent.body = body;
      return this;
    },
    end() {
      sent.ended = true;
    },
  };
  const req = { method: 'POST', path: '/v1/x', route: opts.routed ? { path: '/v1/x' } : undefined };
  const host = {
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => req }),
  } as unknown as ArgumentsHost;
  new OpenAiExceptionFilter().catch(exception, host);
  return sent;
}

describe('OpenAiExceptionFilter', () => {
  it('hides an unexpected error behind a generic 500 and logs it', () => {
    const logged: unknown[] = [];
    const original = Logger.prototype.error;
    Logger.prototype.error = function (...args: unknown[]) {
      logged.push(args);
    };
    try {
      const sent = render(new TypeError('secret internal detail'));
      expect(sent.status).toBe(500);
      expect(sent.body.error).toEqual({
        message: 'The server had an error while processing your request.',
        type: 'server_error',
        param: null,
        code: null,
      });
      expect(JSON.stringify(sent.body)).not.toContain('secret internal detail');
      expect(JSON.stringify(logged)).toContain('secret internal detail');
    } finally {
      Logger.prototype.error = original;
    }
  });

  it('keeps an LlmProviderError status and message', () => {
    const sent = render(new LlmProviderError('slow down', { status: 429, code: 'rate_limit_exceeded' }));
    expect(sent.status).toBe(429);
    expect(sent.body.error).toMatchObject({ message: 'slow down', code: 'rate_limit_exceeded' });
  });

  it('answers only-if-cached misses with 504', () => {
    expect(render(new LlmCacheMissError()).status).toBe(504);
  });

  it.each([
    [
      { type: 'entity.parse.failed', status: 400, message: 'Unexpected token' },
      400,
      /could not parse the JSON/,
    ],
    [{ type: 'entity.too.large', status: 413, length: 2000, limit: 1024 }, 413, /limit is 1024 bytes/],
    [{ type: 'encoding.unsupported', status: 415, message: 'unsupported content encoding "br"' }, 415, /br/],
  ])('maps the body parser error %j to %i', (err, status, message) => {
    const sent = render(Object.assign(new Error(String((err as { message?: string }).message ?? '')), err));
    expect(sent.status).toBe(status);
    expect(sent.body.error.message).toMatch(message);
  });

  it('names the route of an unmatched 404 and keeps Nest HTTP exception messages', () => {
    expect(render(new NotFoundException()).body.error.message).toBe('Unknown route: POST /v1/x');
    expect(render(new BadRequestException('bad thing'), { routed: true }).body.error).toMatchObject({
      message: 'bad thing',
      type: 'invalid_request_error',
    });
  });

  it('ends a response whose headers were already sent instead of writing a second status', () => {
    const sent = render(new Error('mid-stream'), { headersSent: true });
    expect(sent.status).toBeUndefined();
    expect(sent.ended).toBe(true);
  });
});
