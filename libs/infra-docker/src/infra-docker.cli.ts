import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Logger, type LoggerService } from '@nestjs/common';
import { DEFAULT_SERVICE } from './infra-docker.constants.js';
import { InfraDockerError, InvalidRedisConfigError, messageOf } from './infra-docker.errors.js';
import type { InfraDockerModuleOptions } from './infra-docker-options.interface.js';
import type {
  RedisConfigOptions,
  RedisConfigProfile,
  RedisConfigValidationResult,
} from './redis-config.interfaces.js';
import type { RedisContainerOptions, RedisContainerStatus } from './redis-container.interfaces.js';
import { RedisContainerService } from './redis-container.service.js';
import { formatBytes, parseRedisMemory } from './redis-memory.js';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3, engineUnreachable: 4 } as const;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

const USAGE = `Usage: npm run redis -- <command> [options]

Commands
  up                      create/start redis-<service> and wait until it answers PING (idempotent)
  stop                    stop it gracefully (data flushed to disk)
  down                    stop and remove the container (data volume kept unless --volumes)
  status                  running | stopped | missing | unhealthy, with health, uptime, memory, URL
  config show             the service's redis.conf (or what \`up\` would generate)
  config validate         check it (or --file path): rules, then the real redis-server when installed
  config set k=v [k=v…]   change a running service live (CONFIG SET) and persist it; keys:
                          maxmemory maxmemory-policy appendonly appendfsync save tcp-keepalive
                          timeout loglevel protected-mode requirepass

Options
  -s, --service <name>    service name, container redis-<name> (default "${DEFAULT_SERVICE}")
      --profile <name>    development | production (for a new service)
      --image <ref>       image (default redis:7-alpine); --no-pull fails instead of pulling
      --port <n>          host port (default 6379)
      --bind <address>    host address the port is reachable on (default 127.0.0.1)
      --network <mode>    bridge (default, port published) | host | <network name>
      --memory-limit <v>  container memory limit, Redis notation (512mb, 1gb)
      --cpus <n>          CPU limit in cores
      --health-timeout-ms <n>  how long \`up\` waits for a healthy server (default 30000)
      --config-dir <dir>  where service configs live (default ~/.llm-cache/redis, env LLM_CACHE_REDIS_CONFIG_DIR)
      --volumes           with down: also delete the data volume and the stored config
      --file <path>       with config validate: a redis.conf to check
      --json              machine-readable output on stdout
      --show-secrets      print passwords in URLs instead of ****
  -h, --help

Exit codes: 0 ok · 1 failed · 2 usage error · 3 (status) not running or not healthy · 4 Docker engine unreachable`;

const OPTIONS = {
  service: { type: 'string', short: 's' },
  profile: { type: 'string' },
  image: { type: 'string' },
  'no-pull': { type: 'boolean' },
  port: { type: 'string' },
  bind: { type: 'string' },
  network: { type: 'string' },
  'memory-limit': { type: 'string' },
  cpus: { type: 'string' },
  'health-timeout-ms': { type: 'string' },
  'config-dir': { type: 'string' },
  volumes: { type: 'boolean' },
  file: { type: 'string' },
  json: { type: 'boolean' },
  'show-secrets': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

class UsageError extends Error {}

/** `config set` keys (directive names) → typed option, with the value's parser. */
const SETTABLE: Record<string, (value: string) => Partial<RedisConfigOptions>> = {
  maxmemory: (v) => ({ maxmemory: v }),
  'maxmemory-policy': (v) => ({ maxmemoryPolicy: v as RedisConfigOptions['maxmemoryPolicy'] }),
  appendonly: (v) => ({ appendonly: yesNo('appendonly', v) }),
  appendfsync: (v) => ({ appendfsync: v as RedisConfigOptions['appendfsync'] }),
  save: (v) => ({ save: saveRules(v) }),
  'tcp-keepalive': (v) => ({ tcpKeepaliveSeconds: Number(v) }),
  timeout: (v) => ({ timeoutSeconds: Number(v) }),
  loglevel: (v) => ({ loglevel: v as RedisConfigOptions['loglevel'] }),
  'protected-mode': (v) => ({ protectedMode: yesNo('protected-mode', v) }),
  requirepass: (v) => ({ password: v === '' ? undefined : v }),
  password: (v) => ({ password: v === '' ? undefined : v }),
};

/** Runs one CLI command; returns the exit code instead of exiting, so tests can call it in-process. */
export async function runInfraDockerCli(argv: string[], io: CliIo): Promise<number> {
  let flags: Flags;
  let positionals: string[];
  try {
    ({ values: flags, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (flags.help || positionals.length === 0) {
    (flags.help ? io.stdout : io.stderr)(`${USAGE}\n`);
    return flags.help ? EXIT.ok : EXIT.usage;
  }
  Logger.overrideLogger(cliLogger(io));
  try {
    const cli = new CliCommands(flags, io);
    return await cli.run(positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`${err.message}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    io.stderr(`error: ${messageOf(err)}\n`);
    if (err instanceof InfraDockerError && err.code === 'ENGINE_UNREACHABLE') return EXIT.engineUnreachable;
    return EXIT.failed;
  }
}

class CliCommands {
  private readonly service: string;
  private readonly containers: RedisContainerService;

  constructor(
    private readonly flags: Flags,
    private readonly io: CliIo,
  ) {
    this.service = flags.service ?? DEFAULT_SERVICE;
    const options: InfraDockerModuleOptions = {
      configDir: flags['config-dir'] ?? io.env.LLM_CACHE_REDIS_CONFIG_DIR,
      docker: dockerFromEnv(io.env.DOCKER_HOST),
    };
    this.containers = new RedisContainerService(options);
  }

  async run([command, sub, ...rest]: string[]): Promise<number> {
    switch (command) {
      case 'up':
        return this.up();
      case 'stop':
        return this.stop();
      case 'down':
        return this.down();
      case 'status':
        return this.status();
      case 'config':
        if (sub === 'show') return this.configShow();
        if (sub === 'validate') return this.configValidate();
        if (sub === 'set') return this.configSet(rest);
        throw new UsageError(`unknown config command ${JSON.stringify(sub ?? '')} (show | validate | set)`);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  }

  private async up(): Promise<number> {
    const result = await this.containers.start(this.service, {
      ...this.containerOptions(),
      onProgress: (event) => this.io.stderr(`  › ${event.message}\n`),
    });
    if (this.flags.json) return this.json({ ...result, connectionUrl: this.url(result.connectionUrl) });
    const how = result.alreadyRunning ? 'already running' : result.created ? 'created' : 'started';
    this.io.stdout(
      `${result.containerName} is up and healthy (${how})\n  connection  ${this.url(result.connectionUrl)}\n`,
    );
    return EXIT.ok;
  }

  private async stop(): Promise<number> {
    const result = await this.containers.stop(this.service);
    if (this.flags.json) return this.json(result);
    const how = result.wasRunning ? `stopped (exit code ${result.exitCode})` : 'was not running';
    this.io.stdout(`${result.containerName} ${how}\n`);
    return result.wasRunning && result.exitCode !== 0 ? EXIT.failed : EXIT.ok;
  }

  private async down(): Promise<number> {
    const result = await this.containers.remove(this.service, { volumes: this.flags.volumes });
    if (this.flags.json) return this.json(result);
    const name = `redis-${this.service}`;
    const lines = [result.removedContainer ? `${name} removed` : `${name} did not exist`];
    lines.push(
      this.flags.volumes
        ? `  data volume ${result.removedVolume ? 'deleted' : 'was not there'}, stored config deleted`
        : '  data volume and config kept (down --volumes deletes them)',
    );
    this.io.stdout(`${lines.join('\n')}\n`);
    return EXIT.ok;
  }

  private async status(): Promise<number> {
    const status = await this.containers.status(this.service);
    const ok = status.status === 'running' && status.health === 'healthy';
    if (this.flags.json) {
      this.json({ ...status, connectionUrl: status.connectionUrl && this.url(status.connectionUrl) });
    } else {
      this.io.stdout(describeStatus(status, (u) => this.url(u)));
    }
    return ok ? EXIT.ok : EXIT.notRunning;
  }

  private async configShow(): Promise<number> {
    const stored = await this.containers.config.show(this.service);
    if (stored !== undefined) {
      this.io.stdout(this.flags['show-secrets'] ? stored : maskConf(stored));
      return EXIT.ok;
    }
    const state = await this.containers.plan(this.service, this.containerOptions());
    this.io.stderr(`# redis-${this.service} does not exist yet: this is what \`up\` would generate\n`);
    const text = this.containers.config.renderService(state);
    this.io.stdout(this.flags['show-secrets'] ? text : maskConf(text));
    return EXIT.ok;
  }

  private async configValidate(): Promise<number> {
    const config = this.containers.config;
    let result: RedisConfigValidationResult;
    let what: string;
    if (this.flags.file) {
      what = this.flags.file;
      result = await config.validate(await readFile(this.flags.file, 'utf8'));
    } else {
      const stored = await config.store.load(this.service);
      const state = stored ?? (await this.containers.plan(this.service, this.containerOptions()));
      what = stored ? config.store.confPath(this.service) : `redis-${this.service} (not created yet)`;
      result = await config.validate(config.serviceConfig(state), state.context);
    }
    if (this.flags.json) {
      this.json(result);
    } else {
      const lines = [
        `${what}: ${result.valid ? 'valid' : 'INVALID'}${result.checkedWithRedisServer ? ' (also loaded by redis-server)' : ''}`,
      ];
      lines.push(
        ...result.errors.map((e) => `  error    ${e}`),
        ...result.warnings.map((w) => `  warning  ${w}`),
      );
      this.io.stdout(`${lines.join('\n')}\n`);
    }
    return result.valid ? EXIT.ok : EXIT.failed;
  }

  private async configSet(pairs: string[]): Promise<number> {
    if (pairs.length === 0) throw new UsageError('config set needs key=value pairs');
    const changes: Partial<RedisConfigOptions> = {};
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`expected key=value, got ${JSON.stringify(pair)}`);
      const key = pair.slice(0, eq).trim().toLowerCase();
      const parse = SETTABLE[key];
      if (!parse)
        throw new UsageError(
          `cannot set ${JSON.stringify(key)}; settable: ${Object.keys(SETTABLE).join(', ')}`,
        );
      Object.assign(changes, parse(pair.slice(eq + 1)));
    }
    try {
      const result = await this.containers.config.update(this.service, changes);
      if (this.flags.json) return this.json({ ...result, connectionUrl: this.url(result.connectionUrl) });
      const lines = [
        result.live
          ? `redis-${this.service}: applied live: ${result.applied.join(', ') || 'nothing changed'}`
          : `redis-${this.service} is not running: saved, used at the next \`up\``,
      ];
      if (result.restartRequired.length > 0)
        lines.push(`  restart needed for: ${result.restartRequired.join(', ')}`);
      lines.push(
        ...result.warnings.map((w) => `  warning  ${w}`),
        `  connection  ${this.url(result.connectionUrl)}`,
      );
      this.io.stdout(`${lines.join('\n')}\n`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof InvalidRedisConfigError) {
        this.io.stderr(`${err.message}\n`);
        return EXIT.failed;
      }
      throw err;
    }
  }

  private containerOptions(): RedisContainerOptions {
    const f = this.flags;
    const memory = f['memory-limit'] === undefined ? undefined : parseRedisMemory(f['memory-limit']);
    if (f['memory-limit'] !== undefined && !memory)
      throw new UsageError(`--memory-limit: "${f['memory-limit']}" is not a size like 512mb`);
    if (f.profile !== undefined && f.profile !== 'development' && f.profile !== 'production') {
      throw new UsageError(`--profile: "${f.profile}" is not development or production`);
    }
    return {
      image: f.image,
      pullPolicy: f['no-pull'] ? 'never' : undefined,
      hostPort: integer('--port', f.port, 1, 65535),
      bindAddress: f.bind,
      networkMode: f.network,
      profile: f.profile as RedisConfigProfile | undefined,
      memoryLimitBytes: memory,
      cpuLimitCores: f.cpus === undefined ? undefined : positiveNumber('--cpus', f.cpus),
      healthTimeoutMs: integer('--health-timeout-ms', f['health-timeout-ms'], 1, 3_600_000),
    };
  }

  private url(url: string): string {
    return this.flags['show-secrets'] ? url : url.replace(/^(redis:\/\/[^:@/]*:)[^@]*@/, '$1****@');
  }

  private json(value: unknown): number {
    this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
    return EXIT.ok;
  }
}

export function describeStatus(s: RedisContainerStatus, url: (u: string) => string = (u) => u): string {
  if (s.status === 'missing') {
    return `${s.containerName}: missing (no such container; \`redis up --service ${s.service}\` creates it)\n`;
  }
  const lines = [`${s.containerName}: ${s.status}${s.status === 'stopped' ? '' : ` (${s.health})`}`];
  if (s.image) lines.push(`  image       ${s.image}`);
  if (s.uptimeMs !== null) lines.push(`  uptime      ${formatDuration(s.uptimeMs)}`);
  if (s.memory) {
    lines.push(
      `  memory      ${formatBytes(s.memory.usageBytes)}${s.memory.limitBytes ? ` / ${formatBytes(s.memory.limitBytes)}` : ''}`,
    );
  }
  if (s.connectionUrl) lines.push(`  connection  ${url(s.connectionUrl)}`);
  return `${lines.join('\n')}\n`;
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const parts = [
    Math.floor(s / 86400) && `${Math.floor(s / 86400)}d`,
    Math.floor(s / 3600) % 24 && `${Math.floor(s / 3600) % 24}h`,
  ];
  parts.push(Math.floor(s / 60) % 60 && `${Math.floor(s / 60) % 60}m`, `${s % 60}s`);
  return parts.filter(Boolean).join(' ');
}

/** Plain-text passwords (requirepass, `>pw` ACL rules) as ****; hashes are fine to show. */
function maskConf(text: string): string {
  return text
    .split('\n')
    .map((line) =>
      line.replace(/^(\s*requirepass\s+).*$/i, '$1****').replace(/(\s)("?)>[^\s"]*("?)/g, '$1$2>****$3'),
    )
    .join('\n');
}

/** DOCKER_HOST as the docker CLI reads it: unix:///path or tcp://host:port (2376 means TLS there; not here). */
function dockerFromEnv(dockerHost: string | undefined): InfraDockerModuleOptions['docker'] {
  if (!dockerHost) return undefined;
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
}

function yesNo(key: string, value: string): boolean {
  if (/^(yes|true|on)$/i.test(value)) return true;
  if (/^(no|false|off)$/i.test(value)) return false;
  throw new UsageError(`${key}: "${value}" is not yes or no`);
}

function saveRules(value: string): RedisConfigOptions['save'] {
  const numbers = value.trim() === '' ? [] : value.trim().split(/\s+/).map(Number);
  if (numbers.length % 2 !== 0)
    throw new UsageError('save: expected "<seconds> <changes> …" pairs, or "" to disable');
  const rules: RedisConfigOptions['save'] = [];
  for (let i = 0; i < numbers.length; i += 2)
    rules.push({ afterSeconds: numbers[i], minChanges: numbers[i + 1] });
  return rules;
}

function integer(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag}: "${value}" is not a whole number from ${min} to ${max}`);
  return n;
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: "${value}" is not a positive number`);
  return n;
}

/** Nest's logger prints timestamps and colours; a CLI wants plain warnings on stderr and quiet success. */
function cliLogger(io: CliIo): LoggerService {
  return {
    log: () => undefined,
    warn: (message: unknown) => io.stderr(`warning: ${String(message)}\n`),
    error: (message: unknown) => io.stderr(`error: ${String(message)}\n`),
  };
}
