import { afterEach, describe, expect, it } from '@jest/globals';
import type { HttpAdapterHost } from '@nestjs/core';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { GracefulShutdown } from './graceful-shutdown.js';

/** A real listening server, as Nest's adapter holds it; the shutdown hook only needs `getHttpServer()`. */
async function listening(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.end('served'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function shutdownFor(server: Server, config: Pick<ChatbotConfig, 'shutdownDrainMs' | 'shutdownTimeoutMs'>) {
  const host = { httpAdapter: { getHttpServer: () => server } } as unknown as HttpAdapterHost;
  return new GracefulShutdown(host, config as ChatbotConfig);
}

describe('GracefulShutdown', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server?.listening) await new Promise((resolve) => server!.close(resolve));
  });

  it('drains: shuttingDown at once, the listener keeps serving for shutdownDrainMs, then the hook returns', async () => {
    const { server: s, url } = await listening();
    server = s;
    const shutdown = shutdownFor(s, { shutdownDrainMs: 300, shutdownTimeoutMs: 1000 });
    expect(shutdown.shuttingDown).toBe(false);

    const started = Date.now();
    let returned = false;
    const hook = shutdown.beforeApplicationShutdown('SIGTERM').then(() => (returned = true));
    expect(shutdown.shuttingDown).toBe(true);
    // Nest closes the server only after the hook resolves: during the drain, a new connection is still served.
    const res = await fetch(url, { headers: { connection: 'close' } });
    expect(await res.text()).toBe('served');
    expect(returned).toBe(false);
    expect(s.listening).toBe(true);

    await hook;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    shutdown.onApplicationShutdown();
  });

  it('without a drain (local runs) returns at once', async () => {
    const { server: s } = await listening();
    server = s;
    const shutdown = shutdownFor(s, { shutdownDrainMs: 0, shutdownTimeoutMs: 1000 });
    const started = Date.now();
    await shutdown.beforeApplicationShutdown('SIGTERM');
    expect(Date.now() - started).toBeLessThan(100);
    expect(shutdown.shuttingDown).toBe(true);
    shutdown.onApplicationShutdown();
  });
});
