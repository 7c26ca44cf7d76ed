import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { redisConfigProfile } from './redis-config.profiles.js';
import { RedisServiceStore, type RedisServiceState } from './redis-service.store.js';

const root = mkdtempSync(join(tmpdir(), 'llm-cache-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const state = (service: string): RedisServiceState => ({
  version: 1,
  service,
  profile: 'development',
  config: { ...redisConfigProfile('development'), password: 'secret-password-123456' },
  adminPassword: 'admin-secret',
  endpoint: { host: '127.0.0.1', port: 6379, bindAddress: '127.0.0.1' },
  context: { memoryLimitBytes: 1024 },
});

describe('RedisServiceStore', () => {
  const store = new RedisServiceStore(root);

  it('saves state and conf, loads them back, and keeps the passwords private', async () => {
    await store.save(state('a'), 'port 6379\n');
    expect(await store.load('a')).toEqual(state('a'));
    expect(await store.readConf('a')).toBe('port 6379\n');
    expect(statSync(join(root, 'a', 'state.json')).mode & 0o777).toBe(0o600);
    expect(statSync(store.confPath('a')).mode & 0o777).toBe(0o644);
    expect(store.confPath('a')).toBe(join(store.confDir('a'), 'redis.conf'));
  });

  it('replaces files atomically (no temp files left behind)', async () => {
    await store.save(state('b'), 'port 1\n');
    await store.save(state('b'), 'port 2\n');
    expect(await store.readConf('b')).toBe('port 2\n');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(store.confDir('b'))).toEqual(['redis.conf']);
  });

  it('knows nothing of unknown services and removes known ones', async () => {
    expect(await store.load('never')).toBeUndefined();
    expect(await store.readConf('never')).toBeUndefined();
    await store.save(state('c'), 'x\n');
    expect(await store.remove('c')).toBe(true);
    expect(await store.load('c')).toBeUndefined();
    expect(await store.remove('c')).toBe(false);
  });

  it('makes a relative root absolute (Docker refuses relative bind mounts)', () => {
    const relativeStore = new RedisServiceStore(relative(process.cwd(), root));
    expect(isAbsolute(relativeStore.root)).toBe(true);
    expect(relativeStore.root).toBe(root);
  });

  it('refuses service names that are not valid Docker names', () => {
    expect(() => store.serviceDir('../escape')).toThrow(/invalid service name/);
    expect(() => store.serviceDir('has space')).toThrow(/invalid service name/);
  });
});
