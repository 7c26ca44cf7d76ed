/**
 * The few response operations the cache interceptors need, on either HTTP platform. Express hands an interceptor a
 * Node `ServerResponse` (`setHeader`); Fastify a `FastifyReply` (`header()`, with the Node response in `.raw`).
 * Both interceptors go through these helpers, so neither platform is imported nor assumed anywhere else.
 */

/** The Node response underneath either platform's response object. */
export interface NodeResponseLike {
  writableFinished?: boolean;
  destroyed?: boolean;
  once?(event: 'close', listener: () => void): unknown;
}

/** What `context.switchToHttp().getResponse()` returns on Express (a `ServerResponse`) or Fastify (a reply). */
export interface HttpResponseLike extends NodeResponseLike {
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
  raw?: NodeResponseLike;
}

/**
 * Sets headers through the platform's own API: Express's `setHeader`, or Fastify's `reply.header()` so that its
 * hooks and serializers see them (not `reply.raw.setHeader`, which Fastify would not know about).
 */
export function setResponseHeaders(res: HttpResponseLike, headers: Record<string, string>): void {
  const viaFastify = typeof res.header === 'function' && res.raw !== undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (viaFastify) res.header!(name, value);
    else if (typeof res.setHeader === 'function') res.setHeader(name, value);
    else res.header?.(name, value);
  }
}

/**
 * Calls `listener` once if the client goes away before the response has been written completely — including when it
 * already left (a guard or pipe took long enough), in which case the listener runs on the next microtask.
 */
export function onClientDisconnect(res: HttpResponseLike, listener: () => void): void {
  const node: NodeResponseLike = res.raw ?? res;
  if (node.destroyed && !node.writableFinished) {
    queueMicrotask(listener);
    return;
  }
  node.once?.('close', () => {
    if (!node.writableFinished) listener();
  });
}
