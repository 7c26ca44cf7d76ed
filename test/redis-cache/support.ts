/** Small helpers shared by the redis-cache e2e specs. */
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { RedisCacheModule, type RedisCacheModuleOptions } from '@llm-cache/redis-cache';
import { setTimeout as sleep } from 'node:timers/promises';

export const TEST_COMMAND_TIMEOUT_MS = 1000;

/** A plain ioredis client for looking at the server behind the module's back (not the module's own client). */
export function rawClient(port: number): Redis {
  // A short disconnectTimeout: ioredis otherwise holds a 2 s timer after disconnecting from a dead server.
  return new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, disconnectTimeout: 50 });
}

/**
 * Compiles and initializes a testing module around `RedisCacheModule.forRoot(options)`. Unless a spec sets its own,
 * the command timeout is generous: on a loaded 2-core CI machine the 50 ms default can turn a hit into a (correct,
 * fail-open) miss, which would make a spec about something else flaky. The fail-open specs set 50 ms explicitly.
 */
export async function cacheModule(options: RedisCacheModuleOptions): Promise<TestingModule> {
  // Likewise the adaptive deadline (a multiple of the recent p99, floor 5 ms) is off unless a spec asks for it.
  const withTimeout = {
    commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS,
    adaptiveTimeout: false as const,
    ...options,
  };
  const mod = await Test.createTestingModule({ imports: [RedisCacheModule.forRoot(withTimeout)] }).compile();
  await mod.init();
  return mod;
}

/** Polls `probe` until it returns true; fails after `timeoutMs` (bounded in time and in count). */
export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<number> {
  const start = Date.now();
  const maxRounds = Math.ceil(timeoutMs / intervalMs) + 1;
  for (let round = 0; round < maxRounds && Date.now() - start < timeoutMs; round++) {
    if (await probe()) return Date.now() - start;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export { sleep };

/** Runs `fn` and returns its result with the elapsed wall time in ms. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

/** `CLIENT LIST` as text (ioredis types the reply as unknown). */
export async function clientList(raw: Redis): Promise<string> {
  return String(await raw.client('LIST'));
}
