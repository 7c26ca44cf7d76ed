import { describe, expect, it } from '@jest/globals';
import { RedisConfigService, redisConfigProfile } from '@llm-cache/infra-docker';

const config = new RedisConfigService();
const SAFE = 'bind 127.0.0.1\nport 6379\nmaxmemory 256mb\nmaxmemory-policy allkeys-lru\n';

/** The static rules first, then Debian's real redis-server loads what passed them. */
describe('RedisConfigService.validate with the real redis-server', () => {
  it.each([
    ['the development profile', config.render(redisConfigProfile('development'))],
    [
      'the production profile with a password',
      config.render({ ...redisConfigProfile('production'), password: 'p-0123456789abcdef' }),
    ],
    [
      'rename-command and ACL users together',
      `${SAFE}rename-command FLUSHALL ""\nuser app on #${'c'.repeat(64)} ~app:* +@read\n`,
    ],
    ['quoted values', `${SAFE}requirepass "a password with spaces"\nlogfile ""\n`],
    ['a container path for dir (checked in a scratch dir instead)', `${SAFE}dir /data\nappendonly yes\n`],
  ])('accepts %s, and says redis-server loaded it', async (_, text) => {
    const result = await config.validate(text);
    expect(result.errors).toEqual([]);
    expect(result).toMatchObject({ valid: true, checkedWithRedisServer: true });
  });

  it.each([
    [
      'a value out of range the static rules do not know',
      `${SAFE}io-threads 999\n`,
      /redis-server: line 5 \(io-threads 999\): argument must be between 1 and 128/,
    ],
    [
      'an appendfilename that is a path',
      `${SAFE}appendfilename ../escape.aof\n`,
      /redis-server: line 5 \(appendfilename \.\.\/escape\.aof\): appendfilename can't be a path/,
    ],
    [
      'an unknown notify-keyspace-events class',
      `${SAFE}notify-keyspace-events Q\n`,
      /redis-server: line 5 \(notify-keyspace-events Q\): Invalid event class character/,
    ],
  ])('refuses %s — caught only by redis-server', async (_, text, message) => {
    const result = await config.validate(text);
    expect(result.valid).toBe(false);
    expect(result.checkedWithRedisServer).toBe(true);
    expect(result.errors).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    ['an unknown directive', `${SAFE}maxmemroy 1gb\n`, /maxmemroy: unknown directive/],
    ['a bad enum', `${SAFE}appendfsync sometimes\n`, /appendfsync: "sometimes" is not one of/],
    [
      'all interfaces without a password',
      'bind 0.0.0.0\nmaxmemory 1gb\nmaxmemory-policy allkeys-lru\n',
      /without a password/,
    ],
  ])('refuses %s with the static rules, before running anything', async (_, text, message) => {
    const result = await config.validate(text);
    expect(result).toMatchObject({ valid: false, checkedWithRedisServer: false });
    expect(result.errors).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  it('reports checkedWithRedisServer: false when the binary is not installed', async () => {
    const withoutBinary = new RedisConfigService({ redisServerPath: '/nonexistent/redis-server' });
    expect(await withoutBinary.validate(SAFE)).toEqual({
      valid: true,
      errors: [],
      warnings: [],
      checkedWithRedisServer: false,
    });
  });
});
