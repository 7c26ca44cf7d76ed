import type { RedisConfigOptions, RedisConfigProfile } from './redis-config.interfaces.js';

export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';
export type PullPolicy = 'missing' | 'never';

/** What `start()` reports while it works (image pulls, creation, health waits), for CLIs and logs. */
export interface RedisContainerProgressEvent {
  phase: 'pull' | 'create' | 'start' | 'health';
  message: string;
}

export interface RedisContainerOptions {
  /** Default `redis:7-alpine`. */
  image?: string;
  /** `missing` pulls when the engine doesn't have the image; `never` fails right away (offline machines). */
  pullPolicy?: PullPolicy;
  /** Port clients use on the host. Default 6379. */
  hostPort?: number;
  /** Host address the port is reachable on. Default 127.0.0.1 (never the LAN unless asked). */
  bindAddress?: string;
  /** `bridge` (default) publishes the port; `host` shares the host's network (Redis binds `bindAddress` itself). */
  networkMode?: string;
  profile?: RedisConfigProfile;
  /** Overrides on top of the profile (and of the stored config of an existing service). */
  config?: Partial<RedisConfigOptions>;
  memoryLimitBytes?: number;
  cpuLimitCores?: number;
  restartPolicy?: RestartPolicyName;
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  /** Graceful stop: SIGTERM, then Redis fsyncs AOF / saves RDB; SIGKILL after this long. */
  stopTimeoutMs?: number;
  onProgress?: (event: RedisContainerProgressEvent) => void;
}

export interface RedisStartResult {
  success: true;
  service: string;
  containerName: string;
  containerId: string;
  connectionUrl: string;
  /** True when a container was created, false when an existing one was reused. */
  created: boolean;
  /** True when it was already running and healthy: the call changed nothing. */
  alreadyRunning: boolean;
}

export type RedisContainerState = 'running' | 'stopped' | 'missing' | 'unhealthy';
export type RedisHealthState = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface RedisContainerStatus {
  service: string;
  containerName: string;
  status: RedisContainerState;
  health: RedisHealthState;
  connectionUrl: string | null;
  image: string | null;
  uptimeMs: number | null;
  memory: { usageBytes: number; limitBytes: number | null } | null;
}

export interface RedisStopResult {
  service: string;
  containerName: string;
  /** False when it was already stopped or missing (stop is idempotent). */
  wasRunning: boolean;
  /** Exit code of redis-server; 0 means it shut down cleanly (data flushed). */
  exitCode: number | null;
}

export interface RedisRemoveOptions {
  /** Also delete the data volume and the stored config (everything is gone). */
  volumes?: boolean;
}

export interface RedisRemoveResult {
  service: string;
  removedContainer: boolean;
  removedVolume: boolean;
}
