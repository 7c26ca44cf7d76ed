import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertServiceName } from './infra-docker.constants.js';
import type {
  RedisConfigOptions,
  RedisConfigProfile,
  RedisConfigValidationContext,
} from './redis-config.interfaces.js';

/** What the host remembers about a service between commands (the container can't tell us its passwords). */
export interface RedisServiceState {
  version: 1;
  service: string;
  profile: RedisConfigProfile;
  /** The user-facing config, passwords in plain text; the lib's own users are added when rendering. */
  config: RedisConfigOptions;
  adminPassword: string;
  /** Where clients on the host connect (`host`), and the address the port is bound to (may be a wildcard). */
  endpoint: { host: string; port: number; bindAddress: string };
  /** What the config was validated against (published address, memory limit), reused by later updates. */
  context: RedisConfigValidationContext;
}

export function defaultConfigDir(): string {
  return join(homedir(), '.llm-cache', 'redis');
}

/**
 * One folder per service under the config directory:
 *   <service>/state.json      passwords in plain text — 0600, never mounted
 *   <service>/conf/redis.conf the generated file — the `conf` folder is bind-mounted read-only into the container
 * The folder (not the file) is mounted so that replacing the file by rename shows up inside the container.
 */
export class RedisServiceStore {
  readonly root: string;

  /** The root is made absolute: Docker refuses relative bind-mount sources. */
  constructor(root: string = defaultConfigDir()) {
    this.root = resolve(root);
  }

  serviceDir(service: string): string {
    assertServiceName(service);
    return join(this.root, service);
  }

  confDir(service: string): string {
    return join(this.serviceDir(service), 'conf');
  }

  confPath(service: string): string {
    return join(this.confDir(service), 'redis.conf');
  }

  async load(service: string): Promise<RedisServiceState | undefined> {
    try {
      return JSON.parse(
        await readFile(join(this.serviceDir(service), 'state.json'), 'utf8'),
      ) as RedisServiceState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readConf(service: string): Promise<string | undefined> {
    try {
      return await readFile(this.confPath(service), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Writes both files atomically (temp file + rename): a crash never leaves a half-written config. */
  async save(state: RedisServiceState, confText: string): Promise<void> {
    const dir = this.serviceDir(state.service);
    await mkdir(this.confDir(state.service), { recursive: true, mode: 0o755 });
    await writeAtomic(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`, 0o600);
    // World-readable on purpose: the official image runs redis-server as uid 999. It holds password hashes only
    // (unless hashPasswords is turned off).
    await writeAtomic(this.confPath(state.service), confText, 0o644);
  }

  async remove(service: string): Promise<boolean> {
    const dir = this.serviceDir(service);
    const existed = (await this.load(service)) !== undefined || (await this.readConf(service)) !== undefined;
    await rm(dir, { recursive: true, force: true });
    return existed;
  }
}

async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
}
