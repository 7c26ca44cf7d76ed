import { describe, expect, it } from '@jest/globals';
import { parseRedisInfo, summarizeInfo } from './redis-info.parser.js';

const NODE_A = [
  '# Server',
  'redis_version:7.0.15',
  'uptime_in_seconds:42',
  '',
  '# Clients',
  'connected_clients:3',
  '# Memory',
  'used_memory:1048576',
  'used_memory_human:1.00M',
  '# Stats',
  'keyspace_hits:10',
  'keyspace_misses:5',
  'evicted_keys:1',
  '# Keyspace',
  'db0:keys=7,expires=7,avg_ttl=1000',
  'db3:keys=2,expires=0,avg_ttl=0',
].join('\r\n');

const NODE_B = [
  'redis_version:7.0.15',
  'connected_clients:2',
  'used_memory:1048576',
  'used_memory_human:1.00M',
  'keyspace_hits:1',
  'keyspace_misses:4',
  'db0:keys=5,expires=5,avg_ttl=10',
].join('\n');

describe('parseRedisInfo', () => {
  it('turns INFO text into a flat field map, dropping section headers and blank lines', () => {
    const info = parseRedisInfo(NODE_A);
    expect(info.redis_version).toBe('7.0.15');
    expect(info.connected_clients).toBe('3');
    expect(info.used_memory_human).toBe('1.00M');
    expect(info.db0).toBe('keys=7,expires=7,avg_ttl=1000');
    expect(Object.keys(info).some((k) => k.startsWith('#'))).toBe(false);
    expect(info['']).toBeUndefined();
  });

  it('keeps values that contain colons intact', () => {
    expect(parseRedisInfo('executable:/usr/bin/redis-server\r\nmaster_host:::1').master_host).toBe('::1');
  });
});

describe('summarizeInfo', () => {
  it('reads one standalone server', () => {
    const s = summarizeInfo([parseRedisInfo(NODE_A)]);
    expect(s).toEqual({
      redisVersion: '7.0.15',
      connectedClients: 3,
      usedMemoryBytes: 1048576,
      usedMemoryHuman: '1.00M',
      keyspaceHits: 10,
      keyspaceMisses: 5,
      evictedKeys: 1,
      uptimeSeconds: 42,
      keys: 9,
    });
  });

  it('sums counters over every master of a cluster and formats the summed memory', () => {
    const s = summarizeInfo([parseRedisInfo(NODE_A), parseRedisInfo(NODE_B)]);
    expect(s.connectedClients).toBe(5);
    expect(s.keyspaceHits).toBe(11);
    expect(s.keyspaceMisses).toBe(9);
    expect(s.keys).toBe(14);
    expect(s.usedMemoryBytes).toBe(2 * 1048576);
    expect(s.usedMemoryHuman).toBe('2.00M');
  });

  it('counts the in-memory store\'s plain "keys" field and tolerates missing fields', () => {
    const s = summarizeInfo([parseRedisInfo('keys:4\r\nused_memory:100\r\n')]);
    expect(s.keys).toBe(4);
    expect(s.connectedClients).toBe(0);
    expect(s.uptimeSeconds).toBeUndefined();
    expect(summarizeInfo([]).keys).toBe(0);
  });
});
