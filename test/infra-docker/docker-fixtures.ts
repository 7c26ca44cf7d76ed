/**
 * Shared set-up for the Docker e2e specs: the local FROM-scratch Redis image, unique service names per run, a
 * private config directory, fail-fast Redis clients on 127.0.0.1 — and cleanup that removes every container and
 * volume a spec created, whatever happened in between.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { freePort } from '../harness/redis-server.js';
import { ensureRedisTestImage } from '../harness/redis-image.js';
import { setTimeout as sleep } from 'node:timers/promises';

export { freePort };

export class DockerFixture {
  readonly docker = new Docker();
  readonly configDir = mkdtempSync(join(tmpdir(), 'llm-cache-infra-e2e-'));
  readonly runId = `${process.pid}-${randomBytes(3).toString('hex')}`;
  image = '';
  private readonly services = new Set<string>();
  private readonly clients = new Set<Redis>();

  async setUp(): Promise<this> {
    this.image = await ensureRedisTestImage(this.docker);
    return this;
  }

  /** A service name no other run uses; remembered for cleanup. */
  service(name: string): string {
    const service = `e2e-${name}-${this.runId}`;
    this.services.add(service);
    return service;
  }

  /** A client that fails fast (no retries, no offline queue) instead of hanging when it's refused. */
  async connect(url: string): Promise<Redis> {
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 2000,
      commandTimeout: 2000,
      disconnectTimeout: 200,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // The ready check's INFO would fail with NOAUTH and close the connection; tests want to see that reply.
      enableReadyCheck: false,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    this.clients.add(client);
    await client.connect();
    return client;
  }

  async inspect(service: string): Promise<Docker.ContainerInspectInfo> {
    return this.docker.getContainer(`redis-${service}`).inspect();
  }

  async tearDown(): Promise<void> {
    // Wait for each socket to close: ioredis keeps a timer until it does, which would hold Jest open.
    await Promise.all(
      [...this.clients].map(
        (client) =>
          new Promise<void>((resolve) => {
            if (client.status === 'end') return resolve();
            client.once('end', () => resolve());
            client.disconnect();
          }),
      ),
    );
    for (const service of this.services) {
      await this.docker
        .getContainer(`redis-${service}`)
        .remove({ force: true, v: true })
        .catch(() => undefined);
      await this.docker
        .getVolume(`redis-${service}-data`)
        .remove()
        .catch(() => undefined);
    }
    rmSync(this.configDir, { recursive: true, force: true });
  }
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
