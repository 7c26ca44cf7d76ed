import type { RedisContainerOptions } from './redis-container.interfaces.js';

export interface DockerConnectionOptions {
  /** Unix socket of the engine. Default: DOCKER_HOST, else /var/run/docker.sock. */
  socketPath?: string;
  /** TCP engine (`host` + `port` + `protocol`); bind mounts and port checks then refer to *that* machine. */
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  /** Bound on the reachability probe that runs before every operation. */
  engineTimeoutMs?: number;
}

export interface InfraDockerModuleOptions {
  docker?: DockerConnectionOptions;
  /**
   * Host directory holding one folder per service: the generated redis.conf (mounted read-only into the
   * container) and the state file with its passwords. Default `~/.llm-cache/redis`.
   */
  configDir?: string;
  /** Defaults for every `start()`; per-call options win. */
  defaults?: RedisContainerOptions;
  /** `redis-server` binary used to double-check generated files; `false` skips that check. */
  redisServerPath?: string | false;
}
