import type Docker from 'dockerode';
import {
  CONTAINER_CONF_DIR,
  CONTAINER_CONF_FILE,
  CONTAINER_DATA_DIR,
  CONTAINER_REDIS_PORT,
  DEFAULT_BIND_ADDRESS,
  DEFAULT_HOST_PORT,
  DEFAULT_IMAGE,
  DEFAULT_NETWORK_MODE,
  HEALTHCHECK_USER,
  LABEL_MANAGED_BY,
  LABEL_SERVICE,
  MANAGED_BY_VALUE,
  containerNameFor,
  volumeNameFor,
} from './infra-docker.constants.js';
import { PROFILE_CONTAINER_DEFAULTS } from './redis-config.profiles.js';
import type { RedisContainerOptions } from './redis-container.interfaces.js';
import type { RedisServiceState } from './redis-service.store.js';

/** Every option decided: built-in defaults < module `defaults` < the call's options. */
export type ResolvedRedisContainerOptions = Required<Omit<RedisContainerOptions, 'config'>> &
  Pick<RedisContainerOptions, 'config'>;

const NS_PER_MS = 1_000_000;
export const WILDCARD_ADDRESSES: ReadonlySet<string> = new Set(['0.0.0.0', '::', '*']);

export function resolveContainerOptions(
  defaults: RedisContainerOptions,
  options: RedisContainerOptions,
): ResolvedRedisContainerOptions {
  const merged = { ...defaults, ...stripUndefined(options) };
  const profile = merged.profile ?? 'development';
  const resources = PROFILE_CONTAINER_DEFAULTS[profile];
  return {
    image: merged.image ?? DEFAULT_IMAGE,
    pullPolicy: merged.pullPolicy ?? 'missing',
    hostPort: merged.hostPort ?? DEFAULT_HOST_PORT,
    bindAddress: merged.bindAddress ?? DEFAULT_BIND_ADDRESS,
    networkMode: merged.networkMode ?? DEFAULT_NETWORK_MODE,
    profile,
    config: merged.config,
    memoryLimitBytes: merged.memoryLimitBytes ?? resources.memoryLimitBytes,
    cpuLimitCores: merged.cpuLimitCores ?? resources.cpuLimitCores,
    restartPolicy: merged.restartPolicy ?? 'unless-stopped',
    healthIntervalMs: merged.healthIntervalMs ?? 1000,
    healthTimeoutMs: merged.healthTimeoutMs ?? 30_000,
    stopTimeoutMs: merged.stopTimeoutMs ?? 10_000,
    onProgress: merged.onProgress ?? (() => undefined),
  };
}

export function containerLabels(state: RedisServiceState): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
    [LABEL_SERVICE]: state.service,
    'llm-cache.profile': state.profile,
  };
}

/** The Engine API body of `POST /containers/create` for a service. */
export function containerCreateOptions(
  state: RedisServiceState,
  r: ResolvedRedisContainerOptions,
  parts: {
    confDir: string;
    labels: Record<string, string>;
    healthcheck: Docker.HealthConfig;
    command?: RedisServerCommand;
  },
): Docker.ContainerCreateOptions {
  const hostNetwork = r.networkMode === 'host';
  const portKey = `${CONTAINER_REDIS_PORT}/tcp`;
  return {
    name: containerNameFor(state.service),
    Image: r.image,
    ...(parts.command ?? redisServerCommand(undefined)),
    Labels: parts.labels,
    ExposedPorts: hostNetwork ? undefined : { [portKey]: {} },
    Healthcheck: parts.healthcheck,
    StopSignal: 'SIGTERM',
    StopTimeout: Math.ceil(r.stopTimeoutMs / 1000),
    HostConfig: {
      NetworkMode: r.networkMode,
      PortBindings: hostNetwork
        ? undefined
        : { [portKey]: [{ HostIp: r.bindAddress, HostPort: String(r.hostPort) }] },
      Mounts: [
        { Type: 'volume', Source: volumeNameFor(state.service), Target: CONTAINER_DATA_DIR },
        // Read-only: the host owns the file (live updates rewrite it there), the container only reads it.
        { Type: 'bind', Source: parts.confDir, Target: CONTAINER_CONF_DIR, ReadOnly: true },
      ],
      Memory: r.memoryLimitBytes,
      // No swap on top: a swapping Redis is slower than a cache miss.
      MemorySwap: r.memoryLimitBytes,
      NanoCpus: Math.round(r.cpuLimitCores * 1e9),
      RestartPolicy: {
        Name: r.restartPolicy,
        MaximumRetryCount: r.restartPolicy === 'on-failure' ? 5 : undefined,
      },
    },
  };
}

/** What replaces the image's `Entrypoint` (only when it must) and `Cmd` so the container runs our redis.conf. */
export interface RedisServerCommand {
  Entrypoint?: string[];
  Cmd: string[];
}

/**
 * Fits the command to the image's ENTRYPOINT, because Docker appends `Cmd` to it:
 * - none (Debian-style or FROM-scratch images) → `redis-server <conf>` as the command;
 * - `redis-server` itself (or `tini -- redis-server …`) → only `<conf>`: sending `redis-server <conf>` would run
 *   `redis-server redis-server <conf>`. redis-server wants the config file as its first argument, so flags baked
 *   in after it are dropped (the entrypoint is cut just after `redis-server`);
 * - a wrapper script (the official image's `docker-entrypoint.sh`) → `redis-server <conf>`: the wrapper does its
 *   set-up (user switch, permissions) and then execs its arguments.
 */
export function redisServerCommand(
  entrypoint: readonly string[] | null | undefined,
  confFile: string = CONTAINER_CONF_FILE,
): RedisServerCommand {
  const at = (entrypoint ?? []).findIndex((part) => part.split('/').pop() === 'redis-server');
  if (at < 0) return { Cmd: ['redis-server', confFile] };
  const ownEntrypoint = entrypoint!.slice(0, at + 1);
  return at === entrypoint!.length - 1 ? { Cmd: [confFile] } : { Entrypoint: ownEntrypoint, Cmd: [confFile] };
}

/**
 * `redis-cli -e ping` as the PING-only user: `-e` makes an error reply (NOAUTH, LOADING) a failed probe — without
 * it redis-cli exits 0 on anything (so this needs Redis ≥ 7 images). Durations are nanoseconds in the Engine API.
 */
export function redisHealthcheck(
  state: RedisServiceState,
  r: ResolvedRedisContainerOptions,
): Docker.HealthConfig {
  const host =
    state.config.bind.map((b) => b.replace(/^-/, '')).find((b) => !WILDCARD_ADDRESSES.has(b)) ?? '127.0.0.1';
  const port = String(state.config.port);
  return {
    Test: ['CMD', 'redis-cli', '-e', '-h', host, '-p', port, '--user', HEALTHCHECK_USER]
      // Any password works for a nopass user; redis-cli wants one with --user.
      .concat(['--pass', 'ping-only', '--no-auth-warning', 'ping']),
    Interval: r.healthIntervalMs * NS_PER_MS,
    Timeout: Math.max(r.healthIntervalMs, 3000) * NS_PER_MS,
    Retries: 3,
    // Failures while Redis loads a large AOF don't count as unhealthy; the first PONG ends the period.
    StartPeriod: r.healthTimeoutMs * NS_PER_MS,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
