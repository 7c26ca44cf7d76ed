import type { IncomingMessage, ServerResponse } from 'node:http';

// @types/express is not a dependency: the few Express members the app uses, typed by hand.

export interface HttpRequest extends IncomingMessage {
  method: string;
  body?: unknown;
  path: string;
  originalUrl: string;
  baseUrl?: string;
  query: Record<string, unknown>;
  /** Set by Express when a route matched. */
  route?: { path: string };
  /** On Fastify: the matched route pattern, stamped by an `onRequest` hook (app.factory.ts). */
  routePattern?: string;
  /** Set by ApiKeyGuard: the caller's tenant, which scopes its cache entries and conversations. */
  tenant?: string;
}

export interface HttpResponse extends ServerResponse {
  status(code: number): this;
  json(body: unknown): this;
  send(body: unknown): this;
  type(contentType: string): this;
}
