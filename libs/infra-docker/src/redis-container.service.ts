import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type Docker from 'dockerode';
import { DockerEngine, errorText, statusCode } from './docker-engine.js';
import {
  ADMIN_USER,
  CONTAINER_REDIS_PORT,
  HEALTHCHECK_USER,
  INFRA_DOCKER_OPTIONS,
  LABEL_MANAGED_BY,
  MANAGED_BY_VALUE,
  assertServiceName,
  containerNameFor,
  volumeNameFor,
} from './infra-docker.constants.js';
import {
  ContainerNameConflictError,
  ImageUnavailableError,
  InfraDockerError,
  InvalidRedisConfigError,
  PortInUseError,
  RedisUnhealthyError,
} from './infra-docker.errors.js';
import type { InfraDockerModuleOptions } from './infra-docker-options.interface.js';
import { RedisConfigService } from './redis-config.service.js';
import { PROFILES_REQUIRING_AUTH } from './redis-config.profiles.js';
import {
  WILDCARD_ADDRESSES,
  containerCreateOptions,
  containerLabels,
  redisHealthcheck,
  redisServerCommand,
  resolveContainerOptions,
  type RedisServerCommand,
  type ResolvedRedisContainerOptions,
} from './redis-container.definition.js';
import type {
  RedisContainerOptions,
  RedisContainerProgressEvent,
  RedisContainerStatus,
  RedisRemoveOptions,
  RedisRemoveResult,
  RedisStartResult,
  RedisStopResult,
} from './redis-container.interfaces.js';
import type { RedisServiceState } from './redis-service.store.js';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The Redis container of a service, on the Docker Engine API: `redis-<service>` with a data volume, the
 * generated redis.conf, resource limits, a restart policy and a health check that really talks to Redis.
 * `start()` is idempotent and returns only once Redis answers; every failure names its cause.
 */
@Injectable()
export class RedisContainerService {
  protected readonly logger = new Logger(RedisContainerService.name);
  protected readonly engine: DockerEngine;
  readonly config: RedisConfigService;
  protected readonly defaults: RedisContainerOptions;

  constructor(
    @Optional() @Inject(INFRA_DOCKER_OPTIONS) options: InfraDockerModuleOptions = {},
    @Optional() engine?: DockerEngine,
    @Optional() config?: RedisConfigService,
  ) {
    this.engine = engine ?? new DockerEngine(options);
    this.config = config ?? new RedisConfigService(options, this.engine);
    this.defaults = options.defaults ?? {};
  }

  async start(service: string, options: RedisContainerOptions = {}): Promise<RedisStartResult> {
    assertServiceName(service);
    const resolved = this.resolveOptions(options);
    const name = containerNameFor(service);
    await this.engine.ping();
    const existing = await this.engine.inspectContainer(name);
    if (existing) return this.startExisting(service, existing, resolved);

    const state = await this.plan(service, options);
    const validation = await this.config.validate(this.config.serviceConfig(state), state.context);
    if (!validation.valid) throw new InvalidRedisConfigError(validation.errors, validation.warnings);
    for (const warning of validation.warnings) this.logger.warn(`${name}: ${warning}`);

    await this.ensureImage(resolved.image, resolved);
    const command = await this.command(resolved.image);
    await this.assertPortFree(resolved.bindAddress, resolved.hostPort);
    const hadState = (await this.config.store.load(service)) !== undefined;
    let container: Docker.Container;
    let createdVolume = false;
    try {
      await this.config.store.save(state, this.config.renderService(state));
      createdVolume = await this.engine.ensureVolume(volumeNameFor(service), this.labels(state));
      this.progress(resolved, 'create', `creating ${name} from ${resolved.image}`);
      container = await this.engine.call(
        this.engine.docker.createContainer(this.createOptions(state, resolved, command)),
      );
    } catch (err) {
      // No container: leave no config (nor the empty volume just made) behind for a service that never existed.
      if (!hadState) await this.config.store.remove(service).catch(() => false);
      if (createdVolume) await this.engine.removeVolume(volumeNameFor(service)).catch(() => false);
      if (statusCode(err) === 409) throw new ContainerNameConflictError(name);
      throw err;
    }
    await this.startContainer(container, state, resolved, { removeOnFailure: true });
    const info = await this.waitHealthy(name, state, resolved, { stopOnFailure: true });
    this.logger.log(`${name} is healthy at ${this.redacted(state)}`);
    return this.result(service, info, state, { created: true, alreadyRunning: false });
  }

  /** Graceful: SIGTERM lets Redis fsync the AOF and write its RDB before it exits. Idempotent. */
  async stop(service: string): Promise<RedisStopResult> {
    assertServiceName(service);
    const name = containerNameFor(service);
    await this.engine.ping();
    const info = await this.engine.inspectContainer(name);
    if (!info) return { service, containerName: name, wasRunning: false, exitCode: null };
    this.assertManaged(info);
    if (!info.State.Running)
      return { service, containerName: name, wasRunning: false, exitCode: info.State.ExitCode };
    const stopTimeoutMs = this.resolveOptions({}).stopTimeoutMs;
    try {
      await this.engine.call(
        this.engine.docker.getContainer(name).stop({ t: Math.ceil(stopTimeoutMs / 1000) }),
      );
    } catch (err) {
      if (statusCode(err) !== 304) throw err; // 304: it stopped on its own meanwhile
    }
    const after = await this.engine.inspectContainer(name);
    const exitCode = after?.State.ExitCode ?? null;
    if (exitCode !== 0) {
      this.logger.warn(
        `${name} exited with code ${exitCode}; data may not be flushed:\n${await this.engine.logs(name, 20)}`,
      );
    }
    return { service, containerName: name, wasRunning: true, exitCode };
  }

  /** Stops (gracefully) and deletes the container; with `volumes` also the data volume and the stored config. */
  async remove(service: string, options: RedisRemoveOptions = {}): Promise<RedisRemoveResult> {
    assertServiceName(service);
    const name = containerNameFor(service);
    await this.engine.ping();
    const info = await this.engine.inspectContainer(name);
    if (info) {
      this.assertManaged(info);
      if (info.State.Running) await this.stop(service);
      await this.engine.call(this.engine.docker.getContainer(name).remove({ v: false }));
    }
    let removedVolume = false;
    if (options.volumes) {
      removedVolume = await this.removeVolume(service);
      await this.config.store.remove(service);
    }
    return { service, removedContainer: Boolean(info), removedVolume };
  }

  async status(service: string): Promise<RedisContainerStatus> {
    assertServiceName(service);
    const name = containerNameFor(service);
    await this.engine.ping();
    const [info, state] = await Promise.all([
      this.engine.inspectContainer(name),
      this.config.store.load(service),
    ]);
    const connectionUrl = state ? this.config.connectionUrl(state) : null;
    if (!info) {
      return {
        service,
        containerName: name,
        status: 'missing',
        health: 'none',
        connectionUrl,
        image: null,
        uptimeMs: null,
        memory: null,
      };
    }
    this.assertManaged(info);
    const running = info.State.Running;
    const health = (info.State.Health?.Status ?? 'none') as RedisContainerStatus['health'];
    return {
      service,
      containerName: name,
      status: !running ? 'stopped' : health === 'unhealthy' ? 'unhealthy' : 'running',
      health: running ? health : 'none',
      connectionUrl,
      image: info.Config.Image,
      uptimeMs: running ? Math.max(0, Date.now() - Date.parse(info.State.StartedAt)) : null,
      memory: running ? await this.memory(name, info) : null,
    };
  }

  /**
   * The service state `start()` would create — stored config first (so live updates and passwords survive a
   * `down`), explicit `config` overrides on top, network facts last. No side effects: `config show` uses it too.
   */
  async plan(service: string, options: RedisContainerOptions = {}): Promise<RedisServiceState> {
    assertServiceName(service);
    const r = this.resolveOptions(options);
    const stored = await this.config.store.load(service);
    const profile = stored?.profile ?? r.profile;
    if (stored && options.profile && options.profile !== stored.profile) {
      this.logger.warn(
        `${containerNameFor(service)} keeps its stored profile "${stored.profile}" (\`down --volumes\` to start over as "${options.profile}")`,
      );
    }
    const overrides = structuredClone(r.config ?? {});
    const reserved = (overrides.aclUsers ?? []).filter((u) =>
      [ADMIN_USER, HEALTHCHECK_USER, 'default'].includes(u.name),
    );
    if (reserved.length > 0) {
      throw new InvalidRedisConfigError([
        `aclUsers: "${reserved[0].name}" is reserved (use \`password\` for the default user; the others are the lib's own)`,
      ]);
    }
    const hostNetwork = r.networkMode === 'host';
    const config = { ...(stored?.config ?? this.config.profile(profile)), ...overrides };
    // On the host network Redis binds the requested address itself; behind a published port it must listen on
    // the container's interfaces, and the host binding (validated as `publishedOn`) limits who can reach it.
    config.bind = hostNetwork ? [r.bindAddress] : ['0.0.0.0'];
    config.port = hostNetwork ? r.hostPort : CONTAINER_REDIS_PORT;
    if (!hostNetwork && config.password === undefined && overrides.protectedMode === undefined) {
      // Connections through a published port arrive from the bridge gateway, which protected mode refuses.
      config.protectedMode = false;
    }
    if (config.password === undefined && PROFILES_REQUIRING_AUTH.has(profile))
      config.password = randomSecret();
    return {
      version: 1,
      service,
      profile,
      config,
      adminPassword: stored?.adminPassword ?? randomSecret(),
      endpoint: {
        host: WILDCARD_ADDRESSES.has(r.bindAddress) ? '127.0.0.1' : r.bindAddress,
        port: r.hostPort,
        bindAddress: r.bindAddress,
      },
      context: { publishedOn: hostNetwork ? undefined : r.bindAddress, memoryLimitBytes: r.memoryLimitBytes },
    };
  }

  protected resolveOptions(options: RedisContainerOptions): ResolvedRedisContainerOptions {
    return resolveContainerOptions(this.defaults, options);
  }

  protected createOptions(
    state: RedisServiceState,
    r: ResolvedRedisContainerOptions,
    command?: RedisServerCommand,
  ): Docker.ContainerCreateOptions {
    return containerCreateOptions(state, r, {
      confDir: this.config.store.confDir(state.service),
      labels: this.labels(state),
      healthcheck: this.healthcheck(state, r),
      command,
    });
  }

  /** The image's ENTRYPOINT decides how redis-server gets our config (see `redisServerCommand`). */
  protected async command(image: string): Promise<RedisServerCommand> {
    const info = await this.engine.inspectImage(image);
    const entrypoint = info?.Config?.Entrypoint;
    // The API gives the shell form as one string: that is a wrapper, never a bare redis-server.
    return redisServerCommand(typeof entrypoint === 'string' ? [entrypoint] : entrypoint);
  }

  protected healthcheck(state: RedisServiceState, r: ResolvedRedisContainerOptions): Docker.HealthConfig {
    return redisHealthcheck(state, r);
  }

  protected labels(state: RedisServiceState): Record<string, string> {
    return containerLabels(state);
  }

  protected async ensureImage(image: string, r: ResolvedRedisContainerOptions): Promise<void> {
    if (await this.engine.hasImage(image)) return;
    if (r.pullPolicy === 'never') {
      throw new ImageUnavailableError(
        image,
        'the engine does not have it and pulling is disabled (pull policy "never")',
      );
    }
    this.progress(r, 'pull', `pulling ${image}`);
    await this.engine.pull(image, (message) => this.progress(r, 'pull', message));
    this.progress(r, 'pull', `pulled ${image}`);
  }

  /**
   * Checked before creating anything when the engine is on this machine: Docker's own error comes late (after
   * create) on a published port, and never on the host network — Redis just exits there.
   */
  protected async assertPortFree(address: string, port: number): Promise<void> {
    if (!this.engine.isLocal) return;
    const listenOn = address === '*' ? '0.0.0.0' : address;
    const inUse = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE'));
      probe.listen({ port, host: listenOn }, () => probe.close(() => resolve(false)));
    });
    if (inUse) throw new PortInUseError(address, port, 'another process listens there');
  }

  /**
   * Polls the engine's health status until `healthy`, the container exits, or `healthTimeoutMs` passes.
   * `stopOnFailure` is for containers this call started; one that was already running is left as it is.
   */
  protected async waitHealthy(
    name: string,
    state: RedisServiceState,
    r: ResolvedRedisContainerOptions,
    { stopOnFailure }: { stopOnFailure: boolean },
  ): Promise<Docker.ContainerInspectInfo> {
    this.progress(
      r,
      'health',
      `waiting for ${name} to answer PING (up to ${Math.round(r.healthTimeoutMs / 1000)} s)`,
    );
    const deadline = Date.now() + r.healthTimeoutMs;
    const pollMs = Math.min(250, r.healthIntervalMs);
    for (;;) {
      const info = await this.engine.inspectContainer(name);
      if (!info) throw new RedisUnhealthyError(name, 'disappeared while starting', '');
      const health = info.State.Health;
      if (info.State.Running && health?.Status === 'healthy') return info;
      if (!info.State.Running || info.State.Restarting) {
        return this.failStart(
          name,
          state,
          `exited with code ${info.State.ExitCode} while starting`,
          stopOnFailure,
        );
      }
      if (Date.now() >= deadline) {
        const probe = health?.Log?.at(-1)?.Output?.trim();
        return this.failStart(
          name,
          state,
          `was not healthy after ${r.healthTimeoutMs} ms (health: ${health?.Status ?? 'none'}${probe ? `, last probe: ${probe}` : ''})`,
          stopOnFailure,
        );
      }
      await sleep(pollMs);
    }
  }

  /** Reports why a container did not come up, with its logs; stops it first so the restart policy doesn't loop. */
  protected async failStart(
    name: string,
    state: RedisServiceState,
    reason: string,
    stop: boolean,
  ): Promise<never> {
    const logs = await this.engine.logs(name);
    if (stop) {
      await this.engine.docker
        .getContainer(name)
        .stop({ t: 1 })
        .catch(() => undefined); // already stopped
    }
    if (/Address already in use/i.test(logs))
      throw new PortInUseError(state.endpoint.host, state.endpoint.port, 'redis-server could not bind it');
    throw new RedisUnhealthyError(
      name,
      `${reason} (inspect with \`docker logs ${name}\`, remove with \`redis down\`)`,
      logs,
    );
  }

  private async startExisting(
    service: string,
    info: Docker.ContainerInspectInfo,
    r: ResolvedRedisContainerOptions,
  ): Promise<RedisStartResult> {
    this.assertManaged(info);
    const state = await this.config.store.load(service);
    if (!state) {
      throw new InfraDockerError(
        'SERVICE_NOT_FOUND',
        `${info.Name.replace(/^\//, '')} exists but its stored config (in ${this.config.store.root}) is gone; ` +
          `remove the container (\`redis down --service ${service}\`) and start again`,
      );
    }
    if (info.State.Running && info.State.Health?.Status === 'healthy') {
      return this.result(service, info, state, { created: false, alreadyRunning: true });
    }
    const wasRunning = info.State.Running;
    if (!wasRunning) {
      await this.assertPortFree(state.endpoint.bindAddress, state.endpoint.port);
      await this.startContainer(this.engine.docker.getContainer(info.Id), state, r, {
        removeOnFailure: false,
      });
    }
    const healthy = await this.waitHealthy(containerNameFor(service), state, r, {
      stopOnFailure: !wasRunning,
    });
    return this.result(service, healthy, state, { created: false, alreadyRunning: false });
  }

  private async startContainer(
    container: Docker.Container,
    state: RedisServiceState,
    r: ResolvedRedisContainerOptions,
    { removeOnFailure }: { removeOnFailure: boolean },
  ): Promise<void> {
    this.progress(r, 'start', `starting ${containerNameFor(state.service)}`);
    try {
      await this.engine.call(container.start());
    } catch (err) {
      if (statusCode(err) === 304) return; // already started
      if (removeOnFailure) await container.remove({ force: true }).catch(() => undefined);
      const text = errorText(err);
      if (/port is already allocated|address already in use/i.test(text)) {
        throw new PortInUseError(state.endpoint.host, state.endpoint.port, text);
      }
      throw err;
    }
  }

  private async removeVolume(service: string): Promise<boolean> {
    const name = volumeNameFor(service);
    const volume = await this.engine.call(this.engine.docker.getVolume(name).inspect()).catch((err) => {
      if (statusCode(err) === 404) return undefined;
      throw err;
    });
    if (!volume) return false;
    if (volume.Labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_VALUE) {
      this.logger.warn(`volume ${name} was not created by ${MANAGED_BY_VALUE}; left in place`);
      return false;
    }
    return this.engine.removeVolume(name);
  }

  private async memory(
    name: string,
    info: Docker.ContainerInspectInfo,
  ): Promise<RedisContainerStatus['memory']> {
    try {
      const stats = await this.engine.call(
        this.engine.docker.getContainer(name).stats({ stream: false, 'one-shot': true }),
      );
      const m = stats.memory_stats as { usage?: number; stats?: Record<string, number> };
      // What `docker stats` shows: page cache (cgroup v1 `cache`, v2 `inactive_file`) isn't the process's memory.
      const cache = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? m.stats?.cache ?? 0;
      return { usageBytes: Math.max(0, (m.usage ?? 0) - cache), limitBytes: info.HostConfig.Memory || null };
    } catch {
      return null;
    }
  }

  private assertManaged(info: Docker.ContainerInspectInfo): void {
    if (info.Config.Labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_VALUE) {
      throw new ContainerNameConflictError(info.Name.replace(/^\//, ''));
    }
  }

  private result(
    service: string,
    info: Docker.ContainerInspectInfo,
    state: RedisServiceState,
    flags: { created: boolean; alreadyRunning: boolean },
  ): RedisStartResult {
    return {
      success: true,
      service,
      containerName: containerNameFor(service),
      containerId: info.Id,
      connectionUrl: this.config.connectionUrl(state),
      ...flags,
    };
  }

  private progress(
    r: ResolvedRedisContainerOptions,
    phase: RedisContainerProgressEvent['phase'],
    message: string,
  ): void {
    r.onProgress({ phase, message });
  }

  private redacted(state: RedisServiceState): string {
    return this.config.connectionUrl(state).replace(/:[^:@/]*@/, ':****@');
  }
}

function randomSecret(): string {
  return randomBytes(24).toString('base64url');
}
