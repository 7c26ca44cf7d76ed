import { describe, expect, it } from '@jest/globals';
import type { RedisConfigOptions } from './redis-config.interfaces.js';
import { redisConfigProfile } from './redis-config.profiles.js';
import { RedisConfigValidator } from './redis-config.validator.js';

const validator = new RedisConfigValidator();
const SAFE = 'bind 127.0.0.1\nport 6379\nmaxmemory 256mb\nmaxmemory-policy allkeys-lru\nappendonly yes\n';
const dev = (overrides: Partial<RedisConfigOptions> = {}): RedisConfigOptions => ({
  ...redisConfigProfile('development'),
  ...overrides,
});

describe('RedisConfigValidator — redis.conf text', () => {
  it.each([
    ['the seed-style safe config', SAFE],
    ['save pairs on one line and "" to disable', `${SAFE}save 900 1 300 10\nsave ""\n`],
    [
      'all interfaces with a password',
      'bind 0.0.0.0\nrequirepass a-long-enough-password\nmaxmemory 1gb\nmaxmemory-policy allkeys-lfu\n',
    ],
    ['IPv6 and "-" optional addresses', `${SAFE}bind 127.0.0.1 -::1\n`],
    ['an ACL default user with a hash', `${SAFE}user default on #${'a'.repeat(64)} ~* &* +@all -flushall\n`],
    ['ACL selectors', `${SAFE}user app on #${'b'.repeat(64)} ~app:* (~other:* +get) +@read\n`],
    ['directives without typed options', `${SAFE}io-threads 2\nlatency-tracking yes\nhz 10\n`],
    [
      'case-insensitive names and values',
      'BIND 127.0.0.1\nMaxMemory 1GB\nmaxmemory-policy ALLKEYS-LRU\nAppendOnly YES\n',
    ],
  ])('accepts %s', (_, text) => {
    const result = validator.validate(text);
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it.each([
    ['unbalanced quotes', `${SAFE}requirepass "oops\n`, /line 6: unbalanced quotes/],
    [
      'an unknown directive, with a suggestion',
      `${SAFE}maxmemroy 1gb\n`,
      /line 6: maxmemroy: unknown directive \(did you mean "maxmemory"\?\)/,
    ],
    [
      'an unknown eviction policy',
      `${SAFE}maxmemory-policy lru\n`,
      /maxmemory-policy: "lru" is not one of noeviction, allkeys-lru/,
    ],
    ['a memory size without a known unit', `${SAFE}maxmemory 1tb\n`, /maxmemory: "1tb" is not a memory size/],
    ['a memory size with a space', 'bind 127.0.0.1\nmaxmemory 1 gb\n', /maxmemory: needs exactly one value/],
    ['an odd save list', `${SAFE}save 900\n`, /save: needs "<seconds> <changes>" pairs/],
    ['a zero in a save pair', `${SAFE}save 900 0\n`, /save: "0" is not a positive whole number/],
    [
      'a port out of range',
      'bind 127.0.0.1\nport 70000\n',
      /port: "70000" is not a whole number from 0 to 65535/,
    ],
    ['yes/no typos', `${SAFE}appendonly true\n`, /appendonly: "true" is not one of yes, no/],
    [
      'an appendfsync typo',
      `${SAFE}appendfsync sometimes\n`,
      /appendfsync: "sometimes" is not one of always, everysec, no/,
    ],
    ['a bad log level', `${SAFE}loglevel loud\n`, /loglevel: "loud" is not one of/],
    ['a bad bind address', 'bind 127.0.0.300\n', /bind: "127.0.0.300" is not an IP address/],
    ['a bad ACL rule', `${SAFE}user app on secret\n`, /user: "secret" is not an ACL rule/],
    ['a short password hash', `${SAFE}user app on #abc\n`, /user: "#abc" is not an ACL rule/],
    ['a user declared twice', `${SAFE}user a on nopass\nuser a on nopass\n`, /user "a" is declared twice/],
    [
      'rename-command without a new name',
      `${SAFE}rename-command FLUSHALL\n`,
      /rename-command: needs a command and its new name/,
    ],
    ['a directive without a value', `${SAFE}dir\n`, /dir: needs exactly one value/],
    [
      'all interfaces without auth (the seed file)',
      'bind 0.0.0.0\nport 6379\nmaxmemory 256mb\nmaxmemory-policy allkeys-lru\n',
      /bind 0\.0\.0\.0 without a password/,
    ],
    [
      'no bind at all (= every interface) without auth',
      'port 6379\nmaxmemory 1gb\nmaxmemory-policy allkeys-lru\n',
      /bind \* without a password/,
    ],
    [
      'a LAN address without auth',
      'bind 10.1.2.3\nmaxmemory 1gb\nmaxmemory-policy allkeys-lru\n',
      /bind 10\.1\.2\.3 without a password/,
    ],
    [
      'a "user default" line that is nopass on all interfaces',
      'bind 0.0.0.0\nrequirepass long-enough-password\nuser default on nopass ~* +@all\n',
      /without a password/,
    ],
  ])('refuses %s', (_, text, message) => {
    const result = validator.validate(text);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  it.each([
    [
      'noeviction in a cache',
      'bind 127.0.0.1\nmaxmemory 1gb\nmaxmemory-policy noeviction\n',
      /noeviction: once maxmemory is reached every write fails/,
    ],
    ['the default policy (noeviction) in a cache', 'bind 127.0.0.1\nmaxmemory 1gb\n', /noeviction/],
    ['no maxmemory', 'bind 127.0.0.1\nmaxmemory-policy allkeys-lru\n', /no maxmemory/],
    ['no persistence', `${SAFE.replace('appendonly yes', 'appendonly no')}save ""\n`, /no persistence/],
    ['a renamed CONFIG', `${SAFE}rename-command CONFIG ""\n`, /CONFIG is renamed: live updates/],
    ['daemonize in a container', `${SAFE}daemonize yes\n`, /daemonize yes/],
    [
      'a plain-text ACL password',
      `${SAFE}user app on >secret ~* +@all\n`,
      /line 6: user "app" has a plain-text password/,
    ],
    [
      'a short requirepass',
      'bind 0.0.0.0\nrequirepass abc\nmaxmemory 1gb\nmaxmemory-policy allkeys-lru\n',
      /requirepass is short/,
    ],
    [
      'a directive set twice',
      `${SAFE}maxmemory 512mb\n`,
      /line 6: maxmemory: also set on line 3; the last one wins/,
    ],
    [
      'requirepass shadowed by a user default line',
      `${SAFE}requirepass long-enough-password\nuser default on nopass\n`,
      /requirepass is ignored/,
    ],
  ])('warns about %s', (_, text, message) => {
    const result = validator.validate(text);
    expect(result.warnings).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  it('judges exposure by the published address when the port is only published on loopback', () => {
    const text = 'bind 0.0.0.0\nprotected-mode no\nmaxmemory 256mb\nmaxmemory-policy allkeys-lru\n';
    expect(validator.validate(text).valid).toBe(false);
    expect(validator.validate(text, { publishedOn: '127.0.0.1' }).valid).toBe(true);
    expect(validator.validate(text, { publishedOn: '0.0.0.0' }).errors).toEqual([
      expect.stringMatching(/published on 0\.0\.0\.0 without a password/),
    ]);
  });

  it('checks maxmemory against the container memory limit', () => {
    const mb = 1024 ** 2;
    const text = (maxmemory: string) =>
      `bind 127.0.0.1\nmaxmemory ${maxmemory}\nmaxmemory-policy allkeys-lru\n`;
    expect(validator.validate(text('1gb'), { memoryLimitBytes: 512 * mb }).errors).toEqual([
      expect.stringMatching(/maxmemory 1\.0 GiB is above the container memory limit 512 MiB/),
    ]);
    expect(validator.validate(text('500mb'), { memoryLimitBytes: 512 * mb }).warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/leaves little room/)]),
    );
    expect(validator.validate(text('256mb'), { memoryLimitBytes: 512 * mb })).toEqual({
      valid: true,
      errors: [],
      warnings: [],
    });
  });
});

describe('RedisConfigValidator — typed options', () => {
  it('accepts both profiles (production once it has a password)', () => {
    expect(validator.validate(dev())).toEqual({ valid: true, errors: [], warnings: [] });
    const production = { ...redisConfigProfile('production'), password: 'a-generated-password-0123' };
    expect(validator.validate(production).valid).toBe(true);
  });

  it.each([
    ['an empty password', dev({ password: '' }), /password: empty password/],
    [
      'a line break in a password',
      dev({ password: 'a\nb-long-enough-pw' }),
      /password contains a line break/,
    ],
    [
      'a bad eviction policy',
      dev({ maxmemoryPolicy: 'lru' as never }),
      /maxmemory-policy: "lru" is not one of/,
    ],
    ['a bad memory unit', dev({ maxmemory: '256 megs' }), /maxmemory: needs exactly one value/],
    [
      'a non-integer save rule',
      dev({ save: [{ afterSeconds: 1.5, minChanges: 1 }] }),
      /save: .* positive whole numbers/,
    ],
    ['a negative timeout', dev({ timeoutSeconds: -1 }), /timeoutSeconds: -1 is not a whole number/],
    [
      'a bad command name',
      dev({ disabledCommands: ['FLUSH ALL'] }),
      /disabledCommands: invalid command name/,
    ],
    ['an invalid user name', dev({ aclUsers: [{ name: 'a b' }] }), /invalid user name/],
    ['all interfaces without a password', dev({ bind: ['0.0.0.0'] }), /bind 0\.0\.0\.0 without a password/],
    [
      'a bad extra directive',
      dev({ extraDirectives: ['io-thread 4'] }),
      /io-thread: unknown directive \(did you mean "io-threads"\?\)/,
    ],
  ])('refuses %s', (_, config, message) => {
    const result = validator.validate(config);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  it('names directives, not generated line numbers, in messages about typed options', () => {
    const [error] = validator.validate(dev({ maxmemoryPolicy: 'lru' as never })).errors;
    expect(error).toMatch(/^maxmemory-policy: /);
  });

  it('warns about short passwords it would otherwise only see as hashes', () => {
    expect(validator.validate(dev({ password: 'short' })).warnings).toEqual([
      expect.stringMatching(/password: short password \(5 characters\)/),
    ]);
  });

  it('warns about noeviction for a cache', () => {
    expect(validator.validate(dev({ maxmemoryPolicy: 'noeviction' })).warnings).toEqual([
      expect.stringMatching(/noeviction/),
    ]);
  });
});
