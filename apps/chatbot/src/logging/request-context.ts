import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** A caller's id is echoed into headers and logs: only short tokens without spaces, quotes or control bytes. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The id of the request this code runs for, if any (the logger stamps it on every line). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** The caller's `X-Request-Id` when it is a sane token (so traces join up across services), else a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && SANE_REQUEST_ID.test(value) ? value : randomUUID();
}

type Req = IncomingMessage & { requestId?: string };

/**
 * Assigns the request id, answers it in `X-Request-Id` (on every response, errors and 404s included) and runs the
 * rest of the chain inside its context. Mounted first, before anything can fail.
 */
export function requestIdMiddleware(req: Req, res: ServerResponse, next: () => void): void {
  const requestId = requestIdFrom(req.headers['x-request-id']);
  req.requestId = requestId;
  res.setHeader(REQUEST_ID_HEADER, requestId);
  storage.run({ requestId }, next);
}

/**
 * Re-enters the request's context. The body parser resumes the chain from socket events, whose async context is
 * the connection's, not the request's: mounted after it, this gives handlers, guards and filters their id back.
 */
export function reenterRequestContext(req: Req, _res: ServerResponse, next: () => void): void {
  runInRequestContext(req, next);
}

export function runInRequestContext<T>(req: Req, fn: () => T): T {
  return req.requestId ? storage.run({ requestId: req.requestId }, fn) : fn();
}
