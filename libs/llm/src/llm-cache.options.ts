import type { LlmCacheModuleOptions, ResolvedLlmCacheOptions } from './llm-cache.interfaces.js';
import {
  DEFAULT_KEY_SCHEMA_VERSION,
  DEFAULT_LLM_TTL_MS,
  DEFAULT_LOCK_TTL_MS,
  DEFAULT_MAX_MESSAGES,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
} from './llm.constants.js';
import { DEFAULT_MAX_REQUEST_DEPTH } from './request.validator.js';

/** Applies defaults and rejects out-of-range options with a message naming the option. */
export function resolveLlmCacheOptions(options: LlmCacheModuleOptions = {}): ResolvedLlmCacheOptions {
  const determinism = options.determinism ?? 'always';
  if (determinism !== 'always' && determinism !== 'deterministic-only') {
    throw new Error(
      `LlmCacheModule: determinism must be 'always' or 'deterministic-only', got ${String(determinism)}`,
    );
  }
  const keySchemaVersion = options.keySchemaVersion ?? DEFAULT_KEY_SCHEMA_VERSION;
  if (!Number.isInteger(keySchemaVersion) || keySchemaVersion < 1) {
    throw new Error(
      `LlmCacheModule: keySchemaVersion must be a positive integer, got ${String(keySchemaVersion)}`,
    );
  }
  if (options.cacheKeyFn !== undefined && typeof options.cacheKeyFn !== 'function') {
    throw new Error('LlmCacheModule: cacheKeyFn must be a function');
  }
  const c = options.coalescing ?? {};
  return {
    ttlMs: positive('ttlMs', options.ttlMs ?? DEFAULT_LLM_TTL_MS),
    determinism,
    shareAcrossTenants: options.shareAcrossTenants ?? false,
    includeUserField: options.includeUserField ?? false,
    cacheKeyFn: options.cacheKeyFn,
    keySchemaVersion,
    pricing: options.pricing ?? {},
    coalescing: {
      enabled: c.enabled ?? true,
      lockTtlMs: positive('coalescing.lockTtlMs', c.lockTtlMs ?? DEFAULT_LOCK_TTL_MS),
      waitTimeoutMs: positive('coalescing.waitTimeoutMs', c.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS),
      pollIntervalMs: positive('coalescing.pollIntervalMs', c.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS),
    },
    storeLengthFinish: options.storeLengthFinish ?? false,
    maxMessages: positive('maxMessages', options.maxMessages ?? DEFAULT_MAX_MESSAGES),
    maxRequestDepth: positive('maxRequestDepth', options.maxRequestDepth ?? DEFAULT_MAX_REQUEST_DEPTH),
  };
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`LlmCacheModule: ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}
