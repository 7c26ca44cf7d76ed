import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Redis } from 'ioredis';
import { DockerEngine } from './docker-engine.js';
import {
  ADMIN_USER,
  HEALTHCHECK_USER,
  INFRA_DOCKER_OPTIONS,
  LABEL_MANAGED_BY,
  assertServiceName,
  containerNameFor,
} from './infra-docker.constants.js';
import {
  InvalidRedisConfigError,
  RedisServiceNotFoundError,
  UnsupportedRedisChangeError,
} from './infra-docker.errors.js';
import type { InfraDockerModuleOptions } from './infra-docker-options.interface.js';
import { RedisConfRenderer } from './redis-conf.renderer.js';
import type {
  RedisConfigOptions,
  RedisConfigProfile,
  RedisConfigUpdateResult,
  RedisConfigValidationContext,
  RedisConfigValidationResult,
} from './redis-config.interfaces.js';
import { redisConfigProfile } from './redis-config.profiles.js';
import { RedisConfigValidator } from './redis-config.validator.js';
import { RedisServerConfigChecker } from './redis-server.checker.js';
import { RedisServiceStore, type RedisServiceState } from './redis-service.store.js';

type ConfigKey = keyof RedisConfigOptions;

/** Typed keys Redis changes at runtime with CONFIG SET, and how. */
const CONFIG_SET: Partial<Record<ConfigKey, (c: RedisConfigOptions) => [string, string]>> = {
  maxmemory: (c) => ['maxmemory', c.maxmemory],
  maxmemoryPolicy: (c) => ['maxmemory-policy', c.maxmemoryPolicy],
  appendonly: (c) => ['appendonly', c.appendonly ? 'yes' : 'no'],
  appendfsync: (c) => ['appendfsync', c.appendfsync],
  save: (c) => ['save', c.save.map((r) => `${r.afterSeconds} ${r.minChanges}`).join(' ')],
  tcpKeepaliveSeconds: (c) => ['tcp-keepalive', String(c.tcpKeepaliveSeconds)],
  timeoutSeconds: (c) => ['timeout', String(c.timeoutSeconds)],
  loglevel: (c) => ['loglevel', c.loglevel],
  protectedMode: (c) => ['protected-mode', c.protectedMode ? 'yes' : 'no'],
};
/** Keys applied with ACL SETUSER / DELUSER. */
const ACL_KEYS: ConfigKey[] = ['password', 'aclUsers', 'disabledCommands', 'hashPasswords'];
/** Keys the container itself depends on (port binding, health check command): a new container is needed. */
const CONTAINER_KEYS: ConfigKey[] = ['bind', 'port'];

export interface RedisValidateOptions {
  /** Also load the file into the real redis-server when it is installed. Default true. */
  withRedisServer?: boolean;
}

/**
 * redis.conf as typed options: profiles, rendering, validation (static rules, then the real redis-server when
 * there is one), and live updates of a running service — CONFIG SET / ACL SETUSER on the server, then the
 * mounted file rewritten from the typed options so a restart keeps the change.
 */
@Injectable()
export class RedisConfigService {
  protected readonly logger = new Logger(RedisConfigService.name);
  readonly store: RedisServiceStore;
  protected readonly engine: DockerEngine;
  protected readonly validator: RedisConfigValidator;
  protected readonly renderer: RedisConfRenderer;
  protected readonly checker: RedisServerConfigChecker | undefined;

  constructor(
    @Optional() @Inject(INFRA_DOCKER_OPTIONS) options: InfraDockerModuleOptions = {},
    @Optional() engine?: DockerEngine,
    @Optional() validator?: RedisConfigValidator,
    @Optional() renderer?: RedisConfRenderer,
  ) {
    this.store = new RedisServiceStore(options.configDir);
    this.engine = engine ?? new DockerEngine(options);
    this.renderer = renderer ?? new RedisConfRenderer();
    this.validator = validator ?? new RedisConfigValidator(this.renderer);
    this.checker =
      options.redisServerPath === false ? undefined : new RedisServerConfigChecker(options.redisServerPath);
  }

  profile(name: RedisConfigProfile = 'development'): RedisConfigOptions {
    return redisConfigProfile(name);
  }

  render(config: RedisConfigOptions, header?: string): string {
    return this.renderer.render(config, header);
  }

  /** `{ valid, errors, warnings }` for typed options or redis.conf text. */
  async validate(
    config: RedisConfigOptions | string,
    context: RedisConfigValidationContext = {},
    options: RedisValidateOptions = {},
  ): Promise<RedisConfigValidationResult> {
    const result = { ...this.validator.validate(config, context), checkedWithRedisServer: false };
    // The binary only adds value once the static rules pass; its messages are about the first bad line only.
    if (!result.valid || options.withRedisServer === false || !this.checker) return result;
    const text = typeof config === 'string' ? config : this.renderer.render(config);
    const checked = await this.checker.check(text);
    return {
      ...result,
      valid: checked.errors.length === 0,
      errors: checked.errors,
      checkedWithRedisServer: checked.available,
    };
  }

  /** The redis.conf a service runs with, as stored on the host; undefined for an unknown service. */
  async show(service: string): Promise<string | undefined> {
    return this.store.readConf(service);
  }

  /**
   * Validates `changes` on top of the service's config, applies them to the running server, then persists
   * them in the mounted redis.conf. A password change takes effect at once: the old URL is refused, the returned
   * `connectionUrl` works. Changes Redis can't make live are persisted and listed in `restartRequired`.
   */
  async update(service: string, changes: Partial<RedisConfigOptions>): Promise<RedisConfigUpdateResult> {
    assertServiceName(service);
    const state = await this.store.load(service);
    if (!state) throw new RedisServiceNotFoundError(service);
    const next: RedisServiceState = {
      ...state,
      config: { ...structuredClone(state.config), ...structuredClone(changes) },
    };
    const changed = (Object.keys(changes) as ConfigKey[]).filter(
      (key) => JSON.stringify(state.config[key]) !== JSON.stringify(next.config[key]),
    );
    const containerKeys = changed.filter((key) => CONTAINER_KEYS.includes(key));
    if (containerKeys.length > 0) {
      throw new UnsupportedRedisChangeError(
        containerKeys,
        'the container is built around them (port binding, health check); remove it and start again with the new --port/--bind',
      );
    }
    const validation = await this.validate(this.serviceConfig(next), next.context);
    if (!validation.valid) throw new InvalidRedisConfigError(validation.errors, validation.warnings);

    const live = await this.isRunning(service);
    const { applied, restartRequired } = live
      ? await this.applyLive(state, next, changed)
      : { applied: [], restartRequired: [] };
    await this.store.save(next, this.renderService(next));
    this.logger.log(
      `${containerNameFor(service)}: ${changed.length === 0 ? 'nothing changed' : `updated ${changed.join(', ')}`}` +
        (live ? '' : ' (not running: used at the next start)'),
    );
    return {
      service,
      applied,
      restartRequired,
      live,
      connectionUrl: this.connectionUrl(next),
      warnings: validation.warnings,
    };
  }

  /** The service's config plus the lib's own users (admin for live updates, PING-only for the health check). */
  serviceConfig(state: RedisServiceState): RedisConfigOptions {
    return {
      ...state.config,
      aclUsers: [
        ...state.config.aclUsers,
        { name: ADMIN_USER, password: state.adminPassword, allowDangerousCommands: true },
        // allowDangerousCommands only keeps the line short: this user can't run anything but PING anyway.
        { name: HEALTHCHECK_USER, rules: ['-@all', '+ping'], allowDangerousCommands: true },
      ],
    };
  }

  renderService(state: RedisServiceState): string {
    return this.renderer.render(
      this.serviceConfig(state),
      `Generated by @llm-cache/infra-docker for service "${state.service}" (profile ${state.profile}).\n` +
        'Change it with `npm run redis -- config set key=value`: edits by hand are overwritten.',
    );
  }

  /** `redis://[:password@]host:port` for the default user. */
  connectionUrl(state: RedisServiceState): string {
    const host = state.endpoint.host.includes(':') ? `[${state.endpoint.host}]` : state.endpoint.host;
    const auth = state.config.password === undefined ? '' : `:${encodeURIComponent(state.config.password)}@`;
    return `redis://${auth}${host}:${state.endpoint.port}`;
  }

  protected async isRunning(service: string): Promise<boolean> {
    await this.engine.ping();
    const info = await this.engine.inspectContainer(containerNameFor(service));
    return Boolean(info?.State.Running && info.Config.Labels?.[LABEL_MANAGED_BY]);
  }

  /** Connects as the admin user; kept short-lived and fail-fast (no retries, no offline queue). */
  protected async adminClient(state: RedisServiceState): Promise<Redis> {
    const client = new Redis({
      host: state.endpoint.host,
      port: state.endpoint.port,
      username: ADMIN_USER,
      password: state.adminPassword,
      lazyConnect: true,
      connectTimeout: 3000,
      commandTimeout: 5000,
      // ioredis waits 2 s for the socket to end after disconnect() by default, holding the process open.
      disconnectTimeout: 200,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  protected async applyLive(
    before: RedisServiceState,
    after: RedisServiceState,
    changed: ConfigKey[],
  ): Promise<{ applied: string[]; restartRequired: string[] }> {
    const applied: string[] = [];
    const restartRequired: string[] = [];
    const viaRename =
      before.config.disableCommandsVia === 'rename-command' ||
      after.config.disableCommandsVia === 'rename-command';
    // With CONFIG renamed away nothing can be set live: persist, and say a restart is needed.
    const configRenamed =
      before.config.disableCommandsVia === 'rename-command' &&
      before.config.disabledCommands.some((c) => c.toUpperCase() === 'CONFIG');
    const configPairs: string[] = [];
    let aclChanged = false;
    for (const key of changed) {
      const set = CONFIG_SET[key];
      if (set && !configRenamed) {
        const [name, value] = set(after.config);
        configPairs.push(name, value);
        applied.push(name);
      } else if (ACL_KEYS.includes(key) && !(key === 'disabledCommands' && viaRename)) {
        aclChanged = true;
        applied.push(key);
      } else {
        restartRequired.push(key);
      }
    }
    if (configPairs.length === 0 && !aclChanged) return { applied, restartRequired };
    const client = await this.adminClient(before);
    try {
      // One CONFIG SET with every pair is atomic in Redis 7: all apply or none does.
      if (configPairs.length > 0) await client.call('CONFIG', 'SET', ...configPairs);
      if (aclChanged) await this.applyAcl(client, before.config, after.config);
    } finally {
      client.disconnect();
    }
    return { applied, restartRequired };
  }

  /** Re-declares the default user and the app users from scratch (`reset`), and drops removed ones. */
  protected async applyAcl(
    client: Redis,
    before: RedisConfigOptions,
    after: RedisConfigOptions,
  ): Promise<void> {
    const defaultUser = this.renderer.defaultUser(after) ?? { name: 'default', password: after.password };
    await client.call('ACL', 'SETUSER', 'default', 'reset', ...this.renderer.userRules(defaultUser, after));
    for (const user of after.aclUsers) {
      await client.call('ACL', 'SETUSER', user.name, 'reset', ...this.renderer.userRules(user, after));
    }
    const removed = before.aclUsers.filter((u) => !after.aclUsers.some((n) => n.name === u.name));
    if (removed.length > 0) await client.call('ACL', 'DELUSER', ...removed.map((u) => u.name));
  }
}
