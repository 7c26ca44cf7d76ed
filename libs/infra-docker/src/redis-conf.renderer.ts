import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { quoteArg } from './redis-conf.parser.js';
import type { RedisAclUser, RedisConfigOptions } from './redis-config.interfaces.js';

const ALL_ACCESS = ['~*', '&*', '+@all'];

/** Typed options → redis.conf text. Pure and deterministic: the same options always give the same file. */
@Injectable()
export class RedisConfRenderer {
  render(config: RedisConfigOptions, header?: string): string {
    const sections: Array<[string, string[]]> = [
      ['Network', this.network(config)],
      ['Security', this.security(config)],
      ['Memory', [`maxmemory ${config.maxmemory}`, `maxmemory-policy ${config.maxmemoryPolicy}`]],
      ['Persistence', this.persistence(config)],
      // A daemonized redis-server would leave PID 1 and stop the container; logs go to stdout for `docker logs`.
      ['Process', ['daemonize no', 'logfile ""', `loglevel ${config.loglevel}`]],
    ];
    if (config.extraDirectives.length > 0) sections.push(['Extra', config.extraDirectives]);
    const lines = header ? header.split('\n').map((l) => `# ${l}`.trimEnd()) : [];
    for (const [title, body] of sections) {
      if (body.length === 0) continue;
      if (lines.length > 0) lines.push('');
      lines.push(`# ${title}`, ...body);
    }
    return `${lines.join('\n')}\n`;
  }

  /** `#<sha256>` as Redis' ACL expects, so files hold hashes, not passwords. */
  hashPassword(password: string): string {
    return `#${createHash('sha256').update(password, 'utf8').digest('hex')}`;
  }

  /** ACL rules of `user <name> …` (without the name) — also what live updates send with ACL SETUSER. */
  userRules(user: RedisAclUser, config: RedisConfigOptions): string[] {
    const rules = [user.enabled === false ? 'off' : 'on'];
    if (user.password === undefined) rules.push('nopass');
    else rules.push(config.hashPasswords ? this.hashPassword(user.password) : `>${user.password}`);
    rules.push(...(user.rules ?? ALL_ACCESS));
    if (config.disableCommandsVia === 'acl' && !user.allowDangerousCommands) {
      rules.push(...config.disabledCommands.map((c) => `-${c.toLowerCase()}`));
    }
    return rules;
  }

  /**
   * The `default` user as an ACL line, or undefined when plain `requirepass` says it all. An ACL line replaces
   * `requirepass` entirely (Redis loads user lines after the config), so the two are never written together.
   */
  defaultUser(config: RedisConfigOptions): RedisAclUser | undefined {
    const restricted = config.disableCommandsVia === 'acl' && config.disabledCommands.length > 0;
    const hashed = config.password !== undefined && config.hashPasswords;
    if (!restricted && !hashed) return undefined;
    return { name: 'default', password: config.password };
  }

  protected network(config: RedisConfigOptions): string[] {
    return [
      `bind ${config.bind.join(' ')}`,
      `port ${config.port}`,
      `protected-mode ${yesNo(config.protectedMode)}`,
      `tcp-keepalive ${config.tcpKeepaliveSeconds}`,
      `timeout ${config.timeoutSeconds}`,
    ];
  }

  protected security(config: RedisConfigOptions): string[] {
    const lines: string[] = [];
    const defaultUser = this.defaultUser(config);
    if (defaultUser) lines.push(this.userLine(defaultUser, config));
    else if (config.password !== undefined) lines.push(`requirepass ${quoteArg(config.password)}`);
    for (const user of config.aclUsers) lines.push(this.userLine(user, config));
    if (config.disableCommandsVia === 'rename-command') {
      for (const command of config.disabledCommands) lines.push(`rename-command ${command.toUpperCase()} ""`);
    }
    return lines;
  }

  protected persistence(config: RedisConfigOptions): string[] {
    const lines = [
      `dir ${quoteArg(config.dir)}`,
      `appendonly ${yesNo(config.appendonly)}`,
      `appendfsync ${config.appendfsync}`,
    ];
    if (config.save.length === 0) lines.push('save ""');
    for (const rule of config.save) lines.push(`save ${rule.afterSeconds} ${rule.minChanges}`);
    return lines;
  }

  private userLine(user: RedisAclUser, config: RedisConfigOptions): string {
    return ['user', user.name, ...this.userRules(user, config)].map(quoteArg).join(' ');
  }
}

function yesNo(value: boolean): 'yes' | 'no' {
  return value ? 'yes' : 'no';
}
