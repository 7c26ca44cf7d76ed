import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { parseRedisConf } from './redis-conf.parser.js';
import { RedisConfRenderer } from './redis-conf.renderer.js';
import { redisConfigProfile } from './redis-config.profiles.js';

const renderer = new RedisConfRenderer();
const sha = (s: string) => `#${createHash('sha256').update(s).digest('hex')}`;
const lines = (text: string) => parseRedisConf(text).directives.map((d) => [d.name, ...d.args].join(' '));

describe('RedisConfRenderer', () => {
  it("renders the development profile with the seed's defaults", () => {
    const text = renderer.render(redisConfigProfile('development'));
    expect(lines(text)).toEqual([
      'bind 127.0.0.1',
      'port 6379',
      'protected-mode yes',
      'tcp-keepalive 300',
      'timeout 0',
      'maxmemory 256mb',
      'maxmemory-policy allkeys-lru',
      'dir /data',
      'appendonly yes',
      'appendfsync everysec',
      'save 900 1',
      'save 300 10',
      'save 60 10000',
      'daemonize no',
      'logfile ',
      'loglevel notice',
    ]);
  });

  it('renders production with a hashed default password and dangerous commands taken away by ACL', () => {
    const config = { ...redisConfigProfile('production'), password: 'correct horse battery staple' };
    const text = renderer.render(config);
    expect(text).not.toContain('correct horse');
    expect(lines(text)).toContain(
      `user default on ${sha('correct horse battery staple')} ~* &* +@all -flushall -flushdb -keys -debug -config`,
    );
    expect(lines(text)).toContain('maxmemory-policy allkeys-lfu');
    expect(text).not.toMatch(/^requirepass/m);
  });

  it('keeps dangerous commands for operators and hashes ACL user passwords', () => {
    const config = {
      ...redisConfigProfile('production'),
      password: 'app-password-0123456789',
      aclUsers: [
        { name: 'ops', password: 'ops-password-0123456789', allowDangerousCommands: true },
        { name: 'reader', password: 'reader-password-012345', rules: ['~cache:*', '+@read'] },
        { name: 'disabled', enabled: false },
      ],
    };
    expect(lines(renderer.render(config))).toEqual(
      expect.arrayContaining([
        `user ops on ${sha('ops-password-0123456789')} ~* &* +@all`,
        `user reader on ${sha('reader-password-012345')} ~cache:* +@read -flushall -flushdb -keys -debug -config`,
        'user disabled off nopass ~* &* +@all -flushall -flushdb -keys -debug -config',
      ]),
    );
  });

  it('writes requirepass (quoted) when hashing is off and no ACL line is needed', () => {
    const text = renderer.render({
      ...redisConfigProfile('development'),
      password: 'has "quotes" and spaces',
      hashPasswords: false,
    });
    expect(text).toContain('requirepass "has \\"quotes\\" and spaces"');
    expect(parseRedisConf(text).directives.find((d) => d.name === 'requirepass')?.args).toEqual([
      'has "quotes" and spaces',
    ]);
  });

  it('disables commands for everyone with rename-command when asked', () => {
    const text = renderer.render({
      ...redisConfigProfile('development'),
      disabledCommands: ['FLUSHALL', 'keys'],
      disableCommandsVia: 'rename-command',
    });
    expect(lines(text)).toEqual(expect.arrayContaining(['rename-command FLUSHALL ', 'rename-command KEYS ']));
    expect(text).not.toMatch(/^user /m);
  });

  it('disables snapshots with save "" and appends extra directives last', () => {
    const text = renderer.render({
      ...redisConfigProfile('development'),
      save: [],
      extraDirectives: ['io-threads 2'],
    });
    expect(text).toContain('save ""');
    expect(text.trimEnd().split('\n').at(-1)).toBe('io-threads 2');
  });

  it('is deterministic and prefixes a header as comments', () => {
    const config = redisConfigProfile('production');
    const text = renderer.render(config, 'line one\nline two');
    expect(text.startsWith('# line one\n# line two\n')).toBe(true);
    expect(renderer.render(config, 'line one\nline two')).toBe(text);
  });
});
