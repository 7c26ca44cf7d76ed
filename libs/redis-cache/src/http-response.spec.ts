import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { onClientDisconnect, setResponseHeaders } from './http-response.js';

/** The parts of a Node ServerResponse the helpers read (what Express hands an interceptor, and Fastify's `.raw`). */
class NodeResponse extends EventEmitter {
  headers: Record<string, string> = {};
  writableFinished = false;
  destroyed = false;
  setHeader(name: string, value: string) {
    this.headers[name.toLowerCase()] = value;
  }
}

/** A FastifyReply's shape: its own header store, the Node response in `raw`. */
class Reply {
  headers: Record<string, string> = {};
  constructor(readonly raw: NodeResponse) {}
  header(name: string, value: string) {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
}

describe('setResponseHeaders', () => {
  it('sets headers on an Express response with setHeader', () => {
    const res = new NodeResponse();
    setResponseHeaders(res, { 'X-Cache': 'HIT', Age: '3' });
    expect(res.headers).toEqual({ 'x-cache': 'HIT', age: '3' });
  });

  it("sets headers on a Fastify reply through reply.header(), not behind Fastify's back on reply.raw", () => {
    const reply = new Reply(new NodeResponse());
    setResponseHeaders(reply, { 'X-Cache': 'MISS' });
    expect(reply.headers).toEqual({ 'x-cache': 'MISS' });
    expect(reply.raw.headers).toEqual({});
  });
});

describe('onClientDisconnect', () => {
  it.each([
    ['Express', (node: NodeResponse) => node],
    ['Fastify', (node: NodeResponse) => new Reply(node)],
  ])(
    'on %s, fires when the response closes before it finished, and not after a complete answer',
    (_, wrap) => {
      const left = new NodeResponse();
      let leftCalls = 0;
      onClientDisconnect(wrap(left), () => leftCalls++);
      left.emit('close');
      expect(leftCalls).toBe(1);

      const answered = new NodeResponse();
      let answeredCalls = 0;
      onClientDisconnect(wrap(answered), () => answeredCalls++);
      answered.writableFinished = true;
      answered.emit('close');
      expect(answeredCalls).toBe(0);
    },
  );

  it('fires (on the next microtask) when the client had already gone before the listener was attached', async () => {
    const gone = new NodeResponse();
    gone.destroyed = true;
    let calls = 0;
    onClientDisconnect(new Reply(gone), () => calls++);
    expect(calls).toBe(0);
    await Promise.resolve();
    expect(calls).toBe(1);
  });
});
