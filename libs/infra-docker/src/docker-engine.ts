import { Inject, Injectable, Optional } from '@nestjs/common';
import Docker from 'dockerode';
import { INFRA_DOCKER_OPTIONS } from './infra-docker.constants.js';
import { DockerEngineUnreachableError, ImageUnavailableError, messageOf } from './infra-docker.errors.js';
import type { InfraDockerModuleOptions } from './infra-docker-options.interface.js';

const CONNECTION_ERRORS = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'EACCES',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'ENGINE_TIMEOUT',
]);
const PROGRESS_INTERVAL_MS = 1000;

interface PullEvent {
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * The Docker Engine API as this lib needs it: dockerode plus what it leaves to callers — a bounded reachability
 * probe, "not found" as `undefined`, connection failures as one clear error, pull progress, demultiplexed logs.
 * No API version is pinned: dockerode has no negotiation, and a version above the engine's is refused.
 */
@Injectable()
export class DockerEngine {
  readonly docker: Docker;
  /** Where the engine is, for messages: `unix:///var/run/docker.sock`, `tcp://host:2375`. */
  readonly address: string;
  private readonly timeoutMs: number;

  constructor(@Optional() @Inject(INFRA_DOCKER_OPTIONS) options: InfraDockerModuleOptions = {}) {
    const c = options.docker ?? {};
    this.timeoutMs = c.engineTimeoutMs ?? 5000;
    if (c.host) {
      this.docker = new Docker({ host: c.host, port: c.port ?? 2375, protocol: c.protocol ?? 'http' });
      this.address = `${c.protocol ?? 'http'}://${c.host}:${c.port ?? 2375}`;
    } else if (c.socketPath) {
      this.docker = new Docker({ socketPath: c.socketPath });
      this.address = `unix://${c.socketPath}`;
    } else {
      this.docker = new Docker();
      this.address = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
    }
  }

  /** The engine shares this machine's network and filesystem (bind mounts, port checks mean the same thing). */
  get isLocal(): boolean {
    return this.address.startsWith('unix://');
  }

  /** Fails fast, with where and why, instead of letting the first real call hang or throw ENOENT. */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'ENGINE_TIMEOUT' }),
          ),
        this.timeoutMs,
      );
    });
    try {
      await Promise.race([this.docker.ping(), timeout]);
    } catch (err) {
      throw new DockerEngineUnreachableError(this.address, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Turns a connection failure in the middle of an operation into the same clear error as `ping()`. */
  async call<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (err) {
      if (CONNECTION_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')) {
        throw new DockerEngineUnreachableError(this.address, err);
      }
      throw err;
    }
  }

  async inspectContainer(name: string): Promise<Docker.ContainerInspectInfo | undefined> {
    return this.orUndefined(this.docker.getContainer(name).inspect());
  }

  async hasImage(ref: string): Promise<boolean> {
    return (await this.inspectImage(ref)) !== undefined;
  }

  async inspectImage(ref: string): Promise<Docker.ImageInspectInfo | undefined> {
    return this.orUndefined(this.docker.getImage(ref).inspect());
  }

  /** Pulls with progress lines (at most one per layer and second); any failure is an `ImageUnavailableError`. */
  async pull(ref: string, onProgress: (message: string) => void = () => undefined): Promise<void> {
    const lastReport = new Map<string, { status: string; at: number }>();
    const report = (event: PullEvent) => {
      if (!event.status) return;
      const key = event.id ?? '';
      const previous = lastReport.get(key);
      const now = Date.now();
      if (previous?.status === event.status && now - previous.at < PROGRESS_INTERVAL_MS) return;
      lastReport.set(key, { status: event.status, at: now });
      onProgress([event.id, event.status, event.progress].filter(Boolean).join(' '));
    };
    try {
      const stream = await this.call(this.docker.pull(ref));
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(
          stream,
          (err: Error | null, events: PullEvent[]) => {
            const failed = events?.find((e) => e.error || e.errorDetail);
            if (err) reject(err);
            else if (failed) reject(new Error(failed.error ?? failed.errorDetail?.message));
            else resolve();
          },
          report,
        );
      });
    } catch (err) {
      if (err instanceof DockerEngineUnreachableError) throw err;
      throw new ImageUnavailableError(ref, `pulling it failed: ${errorText(err)}`, err);
    }
    if (!(await this.hasImage(ref)))
      throw new ImageUnavailableError(ref, 'the pull finished but the engine has no such image');
  }

  /** The last lines a container wrote, stdout and stderr interleaved, as text. */
  async logs(name: string, tailLines = 40): Promise<string> {
    try {
      const raw = (await this.docker
        .getContainer(name)
        .logs({ stdout: true, stderr: true, tail: tailLines, follow: false })) as unknown as Buffer;
      return demultiplex(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
    } catch {
      return '';
    }
  }

  /** Creates the volume unless it exists; true when it was created by this call. */
  async ensureVolume(name: string, labels: Record<string, string>): Promise<boolean> {
    const existing = await this.orUndefined(this.docker.getVolume(name).inspect());
    if (existing) return false;
    await this.call(this.docker.createVolume({ Name: name, Labels: labels }));
    return true;
  }

  /** Removes a volume; false when there was none. */
  async removeVolume(name: string): Promise<boolean> {
    try {
      await this.call(this.docker.getVolume(name).remove());
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw err;
    }
  }

  private async orUndefined<T>(operation: Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(operation);
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }
}

export function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number } | undefined)?.statusCode;
}

/** The engine's own message (`json.message`) without dockerode's "(HTTP code 500) server error - " prefix. */
export function errorText(err: unknown): string {
  const json = (err as { json?: { message?: string } } | undefined)?.json;
  if (json?.message) return json.message;
  return messageOf(err);
}

/**
 * Non-TTY container logs come in frames: 1 byte stream type, 3 zero bytes, 4 bytes big-endian length, payload.
 * Anything that doesn't parse as frames (a TTY container) is returned as it is.
 */
export function demultiplex(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    if (type > 2 || buffer[offset + 1] !== 0 || offset + 8 + size > buffer.length)
      return buffer.toString('utf8');
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return offset === buffer.length ? Buffer.concat(parts).toString('utf8') : buffer.toString('utf8');
}
