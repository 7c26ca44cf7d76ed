import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';

/**
 * Nest's shutdown order is: before-shutdown hooks (awaited) → HTTP server close (stop accepting, wait for in-flight
 * requests) → shutdown hooks (Redis quits there). Two phases here:
 * - drain: readiness fails at once (`shuttingDown`) while the listener keeps serving for SHUTDOWN_DRAIN_MS, so
 *   endpoints controllers and load balancers see the pod unready and stop routing to it before its port closes;
 * - close: the wait for in-flight requests is unbounded by default, and a client holding a stream open would keep
 *   the pod alive until Kubernetes kills it. This bounds it to SHUTDOWN_TIMEOUT_MS, then cuts what is left.
 */
@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('GracefulShutdown');
  private timer?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  private draining = false;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  /** True from the first shutdown hook on: readiness answers 503 while requests are still served. */
  get shuttingDown(): boolean {
    return this.draining;
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.draining = true;
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server?.listening) return;
    const drainMs = this.config.shutdownDrainMs;
    if (drainMs > 0) {
      this.logger.log(
        `${signal ?? 'shutdown'}: readiness fails now; still serving for ${drainMs} ms (SHUTDOWN_DRAIN_MS)`,
      );
      await sleep(drainMs);
    }
    if (signal) this.logger.log(`${signal}: no new connections; finishing in-flight requests`);
    // A keep-alive socket holds `close()` open until the client's idle timeout (seconds), also one that goes idle
    // only when its in-flight response ends: sweep idle sockets until the server has closed.
    server.closeIdleConnections();
    this.sweeper = setInterval(() => server.closeIdleConnections(), 50);
    this.sweeper.unref();
    this.timer = setTimeout(() => {
      this.logger.warn(
        `in-flight requests still open after ${this.config.shutdownTimeoutMs} ms: closing them`,
      );
      server.closeAllConnections();
    }, this.config.shutdownTimeoutMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
