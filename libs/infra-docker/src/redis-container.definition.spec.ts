import { describe, expect, it } from '@jest/globals';
import { redisServerCommand } from './redis-container.definition.js';

const CONF = '/usr/local/etc/redis/redis.conf';

describe('redisServerCommand', () => {
  it('runs redis-server with the config when the image has no ENTRYPOINT', () => {
    expect(redisServerCommand(undefined, CONF)).toEqual({ Cmd: ['redis-server', CONF] });
    expect(redisServerCommand(null, CONF)).toEqual({ Cmd: ['redis-server', CONF] });
    expect(redisServerCommand([], CONF)).toEqual({ Cmd: ['redis-server', CONF] });
  });

  it('passes only the config when the ENTRYPOINT is redis-server itself (no "redis-server redis-server conf")', () => {
    expect(redisServerCommand(['redis-server'], CONF)).toEqual({ Cmd: [CONF] });
    expect(redisServerCommand(['/usr/local/bin/redis-server'], CONF)).toEqual({ Cmd: [CONF] });
    expect(redisServerCommand(['/sbin/tini', '--', 'redis-server'], CONF)).toEqual({ Cmd: [CONF] });
  });

  it('cuts flags baked in after redis-server, because the config file must be its first argument', () => {
    expect(redisServerCommand(['redis-server', '--protected-mode', 'no'], CONF)).toEqual({
      Entrypoint: ['redis-server'],
      Cmd: [CONF],
    });
  });

  it('hands "redis-server <conf>" to a wrapper script such as docker-entrypoint.sh', () => {
    expect(redisServerCommand(['docker-entrypoint.sh'], CONF)).toEqual({ Cmd: ['redis-server', CONF] });
    expect(redisServerCommand(['/bin/sh -c /entry.sh'], CONF)).toEqual({ Cmd: ['redis-server', CONF] });
  });
});
