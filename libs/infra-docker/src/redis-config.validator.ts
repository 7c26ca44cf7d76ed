import { isIP } from 'node:net';
import { Injectable, Optional } from '@nestjs/common';
import { parseRedisConf, type RedisConfDirective } from './redis-conf.parser.js';
import { RedisConfRenderer } from './redis-conf.renderer.js';
import type {
  RedisConfigOptions,
  RedisConfigValidationContext,
  RedisConfigValidationResult,
} from './redis-config.interfaces.js';
import { REDIS_DIRECTIVES, REPEATABLE_DIRECTIVES } from './redis-directives.js';
import { formatBytes, parseRedisMemory } from './redis-memory.js';

const MAXMEMORY_POLICIES = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
];
const LOG_LEVELS = ['debug', 'verbose', 'notice', 'warning', 'nothing'];
const YES_NO = [
  'protected-mode',
  'appendonly',
  'daemonize',
  'activedefrag',
  'activerehashing',
  'aof-use-rdb-preamble',
  'aof-load-truncated',
  'rdbcompression',
  'rdbchecksum',
  'stop-writes-on-bgsave-error',
  'replica-read-only',
  'cluster-enabled',
  'lazyfree-lazy-eviction',
  'lazyfree-lazy-expire',
  'lazyfree-lazy-server-del',
  'lazyfree-lazy-user-del',
  'lazyfree-lazy-user-flush',
  'no-appendfsync-on-rewrite',
  'dynamic-hz',
  'jemalloc-bg-thread',
];
const ALL_INTERFACES = new Set(['*', '0.0.0.0', '::', '::*']);
const ACL_FLAGS = new Set([
  'on',
  'off',
  'nopass',
  'resetpass',
  'reset',
  'resetkeys',
  'resetchannels',
  'allkeys',
  'allchannels',
  'allcommands',
  'nocommands',
  'sanitize-payload',
  'skip-sanitize-payload',
]);
/** Leave room above maxmemory for fragmentation and the fork of AOF rewrites / RDB saves. */
const MEMORY_HEADROOM_RATIO = 0.75;

type ValidationOutput = Omit<RedisConfigValidationResult, 'checkedWithRedisServer'>;

/**
 * Static checks of a Redis configuration: syntax, directive names, argument counts, enums, memory units, save
 * pairs, ACL rules — and combinations that are legal but unsafe. Takes typed options or redis.conf text; both go
 * through the same directive rules (typed options are rendered first), so they can't disagree.
 */
@Injectable()
export class RedisConfigValidator {
  private readonly renderer: RedisConfRenderer;

  constructor(@Optional() renderer?: RedisConfRenderer) {
    this.renderer = renderer ?? new RedisConfRenderer();
  }

  validate(
    config: RedisConfigOptions | string,
    context: RedisConfigValidationContext = {},
  ): ValidationOutput {
    const errors: string[] = [];
    const warnings: string[] = [];
    let text: string;
    if (typeof config === 'string') {
      text = config;
    } else {
      this.checkTyped(config, errors, warnings);
      if (errors.length > 0) return { valid: false, errors, warnings };
      text = this.renderer.render(config);
    }
    const fromText = typeof config === 'string';
    const { directives, errors: syntaxErrors } = parseRedisConf(text);
    errors.push(...syntaxErrors);
    const where = (d: RedisConfDirective) => (fromText ? `line ${d.line}: ${d.name}` : d.name);
    for (const d of directives) {
      const problem = this.checkDirective(d);
      if (problem) errors.push(`${where(d)}: ${problem}`);
    }
    this.checkDuplicates(directives, where, errors, warnings);
    this.checkCombinations(directives, context, errors, warnings, fromText);
    return { valid: errors.length === 0, errors, warnings };
  }

  /** What only typed options can tell (a hashed password's length is gone once rendered). */
  protected checkTyped(config: RedisConfigOptions, errors: string[], warnings: string[]): void {
    const passwords: Array<[string, string | undefined]> = [
      ['password', config.password],
      ...config.aclUsers.map((u): [string, string | undefined] => [`user ${u.name}`, u.password]),
    ];
    for (const [who, password] of passwords) {
      if (password === undefined) continue;
      if (password === '') errors.push(`${who}: empty password (omit it for no password)`);
      else if (/[\r\n]/.test(password)) errors.push(`${who}: password contains a line break`);
      else if (password.length < 12)
        warnings.push(`${who}: short password (${password.length} characters); use 16+ random characters`);
    }
    for (const user of config.aclUsers) {
      if (!/^[^\s"']+$/.test(user.name)) errors.push(`user ${JSON.stringify(user.name)}: invalid user name`);
    }
    for (const command of config.disabledCommands) {
      if (!/^[a-z][a-z-]*(\|[a-z-]+)?$/i.test(command))
        errors.push(`disabledCommands: invalid command name ${JSON.stringify(command)}`);
    }
    for (const rule of config.save) {
      if (!isPositiveInt(rule.afterSeconds) || !isPositiveInt(rule.minChanges)) {
        errors.push(`save: ${JSON.stringify(rule)} needs positive whole numbers of seconds and changes`);
      }
    }
    for (const [name, value] of [
      ['port', config.port],
      ['tcpKeepaliveSeconds', config.tcpKeepaliveSeconds],
      ['timeoutSeconds', config.timeoutSeconds],
    ] as const) {
      if (!Number.isInteger(value) || value < 0) errors.push(`${name}: ${value} is not a whole number ≥ 0`);
    }
  }

  /** One directive on its own; returns the problem, if any. */
  protected checkDirective({ name, args }: RedisConfDirective): string | undefined {
    if (!REDIS_DIRECTIVES.has(name)) {
      const guess = closest(name, REDIS_DIRECTIVES);
      return `unknown directive${guess ? ` (did you mean "${guess}"?)` : ''}`;
    }
    if (YES_NO.includes(name)) return oneOf(args, ['yes', 'no']);
    switch (name) {
      case 'bind': {
        if (args.length === 0) return 'needs at least one address';
        const bad = args.find((a) => !isBindAddress(a));
        return bad === undefined ? undefined : `"${bad}" is not an IP address or host name`;
      }
      case 'port':
      case 'tls-port':
        return intIn(args, 0, 65535);
      case 'tcp-keepalive':
      case 'timeout':
        return intIn(args, 0, Number.MAX_SAFE_INTEGER);
      case 'databases':
      case 'maxclients':
      case 'maxmemory-samples':
        return intIn(args, 1, Number.MAX_SAFE_INTEGER);
      case 'maxmemory':
        if (args.length !== 1) return 'needs exactly one value';
        return parseRedisMemory(args[0]) === undefined
          ? `"${args[0]}" is not a memory size (bytes, or a number with k/kb/m/mb/g/gb)`
          : undefined;
      case 'maxmemory-policy':
        return oneOf(args, MAXMEMORY_POLICIES);
      case 'appendfsync':
        return oneOf(args, ['always', 'everysec', 'no']);
      case 'loglevel':
        return oneOf(args, LOG_LEVELS);
      case 'save':
        return checkSave(args);
      case 'requirepass':
      case 'dir':
        return args.length === 1 ? undefined : 'needs exactly one value';
      case 'rename-command':
        return args.length === 2 ? undefined : 'needs a command and its new name ("" disables it)';
      case 'user':
        return checkUser(args);
      default:
        return args.length === 0 ? 'needs a value' : undefined;
    }
  }

  protected checkDuplicates(
    directives: RedisConfDirective[],
    where: (d: RedisConfDirective) => string,
    errors: string[],
    warnings: string[],
  ): void {
    const seen = new Map<string, RedisConfDirective>();
    const users = new Set<string>();
    for (const d of directives) {
      if (d.name === 'user' && d.args[0] !== undefined) {
        if (users.has(d.args[0]))
          errors.push(`${where(d)}: user "${d.args[0]}" is declared twice (Redis refuses to start)`);
        users.add(d.args[0]);
      }
      if (REPEATABLE_DIRECTIVES.has(d.name)) continue;
      const first = seen.get(d.name);
      if (first) warnings.push(`${where(d)}: also set on line ${first.line}; the last one wins`);
      else seen.set(d.name, d);
    }
  }

  /** Legal on their own, dangerous or surprising together. */
  protected checkCombinations(
    directives: RedisConfDirective[],
    context: RedisConfigValidationContext,
    errors: string[],
    warnings: string[],
    fromText: boolean,
  ): void {
    const last = (name: string) => directives.filter((d) => d.name === name).at(-1)?.args;
    const binds = last('bind')?.map((a) => a.replace(/^-/, '')) ?? ['*'];
    const auth = defaultUserAuth(directives);
    const exposed = context.publishedOn
      ? !isLoopback(context.publishedOn)
      : binds.some((b) => !isLoopback(b));
    if (exposed && !auth.required) {
      const where = context.publishedOn ? `published on ${context.publishedOn}` : `bind ${binds.join(' ')}`;
      errors.push(
        `${where} without a password: anyone who can reach the port can read, write and reconfigure this server — ` +
          'set a password (requirepass or a "user default" password) or bind 127.0.0.1 only',
      );
    }
    if (auth.requirepassIgnored) {
      warnings.push(
        'requirepass is ignored: a "user default" line sets the default user (ACL lines load last)',
      );
    }

    const maxmemory = parseRedisMemory(last('maxmemory')?.[0] ?? '0') ?? 0;
    const policy = last('maxmemory-policy')?.[0] ?? 'noeviction';
    if (maxmemory === 0) {
      warnings.push('no maxmemory: Redis grows until the machine or the container memory limit kills it');
    } else if (policy === 'noeviction') {
      warnings.push(
        'maxmemory-policy noeviction: once maxmemory is reached every write fails with OOM — a cache wants allkeys-lru or allkeys-lfu',
      );
    }
    const limit = context.memoryLimitBytes;
    if (limit && maxmemory > limit) {
      errors.push(
        `maxmemory ${formatBytes(maxmemory)} is above the container memory limit ${formatBytes(limit)}`,
      );
    } else if (limit && maxmemory > limit * MEMORY_HEADROOM_RATIO) {
      warnings.push(
        `maxmemory ${formatBytes(maxmemory)} leaves little room under the ${formatBytes(limit)} container limit ` +
          `for fragmentation and the fork of AOF rewrites (keep it ≤ ${Math.round(MEMORY_HEADROOM_RATIO * 100)}%)`,
      );
    }

    const save = last('save');
    const noSnapshots = save !== undefined && save.length === 1 && save[0] === '';
    if (last('appendonly')?.[0] !== 'yes' && noSnapshots) {
      warnings.push('no persistence (appendonly no, save ""): the data is gone after every restart');
    }
    const renamed = directives
      .filter((d) => d.name === 'rename-command')
      .map((d) => d.args[0]?.toLowerCase());
    if (renamed.includes('config')) {
      warnings.push(
        'CONFIG is renamed: live updates (CONFIG SET) are impossible, every change needs a restart',
      );
    }
    if (last('daemonize')?.[0] === 'yes') {
      warnings.push('daemonize yes: in a container the server forks away from PID 1 and the container stops');
    }
    if (fromText) {
      for (const d of directives) {
        if (d.name === 'user' && d.args.some((a) => a.startsWith('>'))) {
          warnings.push(
            `line ${d.line}: user "${d.args[0]}" has a plain-text password; prefer #<sha256> hashes`,
          );
        }
      }
      const pass = last('requirepass')?.[0];
      if (pass !== undefined && pass !== '' && pass.length < 12) {
        warnings.push(`requirepass is short (${pass.length} characters); use 16+ random characters`);
      }
    }
  }
}

function oneOf(args: string[], allowed: string[]): string | undefined {
  if (args.length !== 1) return `needs exactly one of ${allowed.join(', ')}`;
  return allowed.includes(args[0].toLowerCase())
    ? undefined
    : `"${args[0]}" is not one of ${allowed.join(', ')}`;
}

function intIn(args: string[], min: number, max: number): string | undefined {
  if (args.length !== 1) return 'needs exactly one number';
  const n = Number(args[0]);
  return /^-?\d+$/.test(args[0]) && n >= min && n <= max
    ? undefined
    : `"${args[0]}" is not a whole number from ${min} to ${max}`;
}

function isPositiveInt(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

function checkSave(args: string[]): string | undefined {
  if (args.length === 1 && args[0] === '') return undefined;
  if (args.length === 0 || args.length % 2 !== 0) {
    return 'needs "<seconds> <changes>" pairs (or "" to disable snapshots)';
  }
  const bad = args.find((a) => !/^\d+$/.test(a) || Number(a) <= 0);
  return bad === undefined ? undefined : `"${bad}" is not a positive whole number`;
}

function checkUser(args: string[]): string | undefined {
  if (args.length === 0) return 'needs a user name';
  let selectorDepth = 0;
  for (const rule of args.slice(1)) {
    if (rule.startsWith('(')) selectorDepth++;
    if (selectorDepth > 0) {
      if (rule.endsWith(')')) selectorDepth--;
      continue;
    }
    const valid =
      ACL_FLAGS.has(rule.toLowerCase()) ||
      /^[<>]./.test(rule) ||
      /^[#!][0-9a-f]{64}$/i.test(rule) ||
      /^(~|%R~|%W~|%RW~|&)./.test(rule) ||
      /^[+-]@?[a-z][a-z0-9|_-]*$/i.test(rule);
    if (!valid) return `"${rule}" is not an ACL rule`;
  }
  return selectorDepth === 0 ? undefined : 'unclosed "(" selector';
}

/** Whether a client must authenticate as the default user, replaying its ACL rules like Redis does. */
function defaultUserAuth(directives: RedisConfDirective[]): {
  required: boolean;
  requirepassIgnored: boolean;
} {
  const userLines = directives.filter((d) => d.name === 'user' && d.args[0] === 'default');
  const requirepass = directives.filter((d) => d.name === 'requirepass').at(-1)?.args[0];
  if (userLines.length === 0)
    return { required: requirepass !== undefined && requirepass !== '', requirepassIgnored: false };
  let enabled = false;
  let nopass = false;
  for (const rule of userLines.at(-1)!.args.slice(1)) {
    const r = rule.toLowerCase();
    if (r === 'on') enabled = true;
    else if (r === 'off' || r === 'reset') [enabled, nopass] = [false, false];
    else if (r === 'nopass') nopass = true;
    else if (r === 'resetpass' || /^[>#]/.test(r)) nopass = false;
  }
  return { required: !(enabled && nopass), requirepassIgnored: requirepass !== undefined };
}

function isBindAddress(value: string): boolean {
  const address = value.replace(/^-/, '');
  if (ALL_INTERFACES.has(address) || isIP(address) !== 0) return true;
  // Digits and dots that aren't an IPv4 address are a typo, not a host name.
  return !/^[\d.]+$/.test(address) && /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(address);
}

function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address);
}

/** The known name closest to a typo (edit distance ≤ 2), for "did you mean". */
function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}
