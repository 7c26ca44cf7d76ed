import { describe, expect, it } from '@jest/globals';
import { HttpStatusError } from './http-status.error.js';
import { classifyRedisError, describeRedisError, RedisUnavailableError } from './redis-cache.errors.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('classifyRedisError', () => {
  it.each([
    [new Error('WRONGPASS invalid username-password pair or user is disabled.'), 'WRONGPASS'],
    [new Error('NOAUTH Authentication required.'), 'NOAUTH'],
    [new Error("READONLY You can't write against a read only replica."), 'READONLY'],
    [new Error('OOM command not allowed when used memory > maxmemory.'), 'OOM'],
    [withCode('getaddrinfo ENOTFOUND redis.internal', 'ENOTFOUND'), 'DNS'],
    [withCode('getaddrinfo EAI_AGAIN redis.internal', 'EAI_AGAIN'), 'DNS'],
    [withCode('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), 'TLS'],
    [withCode('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER'), 'TLS'],
    [withCode('Hostname/IP does not match', 'ERR_TLS_CERT_ALTNAME_INVALID'), 'TLS'],
    [withCode('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED'), 'ECONNREFUSED'],
    [new Error('timed out after 50 ms'), 'TIMEOUT'],
    [new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'DISCONNECTED'],
    [new Error('something else'), 'UNKNOWN'],
    ['a string', 'UNKNOWN'],
  ])('%s → %s', (err, cause) => {
    expect(classifyRedisError(err)).toBe(cause);
  });

  it('describes as CAUSE: message', () => {
    expect(describeRedisError(new Error('NOAUTH Authentication required.'))).toBe(
      'NOAUTH: NOAUTH Authentication required.',
    );
  });
});

describe('RedisUnavailableError', () => {
  it('is an HttpStatusError answering 503 in the shared error shape, keeping reason, count and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new RedisUnavailableError('ECONNREFUSED: connect refused', 7, { cause });
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err).toMatchObject({
      name: 'RedisUnavailableError',
      status: 503,
      reason: 'ECONNREFUSED: connect refused',
    });
    expect(err.deletedBeforeFailure).toBe(7);
    expect(err.cause).toBe(cause);
    expect(err.toJSON()).toEqual({
      error: {
        message: 'Redis unavailable: ECONNREFUSED: connect refused',
        type: 'server_error',
        param: null,
        code: 'redis_unavailable',
      },
    });
  });
});
