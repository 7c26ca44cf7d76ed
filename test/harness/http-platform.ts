/**
 * Starts a Nest app on either HTTP platform for the e2e specs that must behave the same on both
 * (`describe.each(HTTP_PLATFORMS)`): a real listening server on 127.0.0.1, never `inject()`, so SSE framing, headers
 * and client disconnects go through real sockets.
 */
import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { TestingModule } from '@nestjs/testing';

export type HttpPlatform = 'express' | 'fastify';

export const HTTP_PLATFORMS: readonly HttpPlatform[] = ['express', 'fastify'];

export interface StartedApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  url: string;
}

/** Creates the app from a compiled testing module on `platform` and listens on a free loopback port. */
export async function startOnPlatform(
  moduleRef: TestingModule,
  platform: HttpPlatform,
  options: NestApplicationOptions = {},
): Promise<StartedApp> {
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = moduleRef.createNestApplication(adapter, {
    logger: false,
    // fetch (undici) may leave a connection open on which no request was ever sent; neither server counts it as
    // idle, so without this close() waits for Node's headers timeout (about a minute on Fastify).
    forceCloseConnections: true,
    ...options,
  });
  // Fastify's listen() runs its `ready()` (plugins, routes) before binding; Express binds directly.
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}
