import { z } from 'zod';

/**
 * The chatbot's environment as a schema: every variable, its type, range and default, in one place. Values are
 * trimmed and an empty one counts as unset (so `FOO=` in a .env file means "default"). Each variable is checked on
 * its own so that one bad value never hides another: `readChatbotEnv` reports them all, by name.
 */
const text = () =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() ? v.trim() : undefined), z.string().optional());

const integer = <D extends number | undefined>(min: number, max: number, fallback: D) =>
  text().transform((raw, ctx): number | D => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (/^\d+$/.test(raw) && Number.isSafeInteger(n) && n >= min && n <= max) return n;
    ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${raw}"` });
    return z.NEVER;
  });

const flag = (fallback: boolean) =>
  text().transform((raw, ctx): boolean => {
    const value = raw?.toLowerCase();
    if (value === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    ctx.addIssue({ code: 'custom', message: `must be true or false, got "${raw}"` });
    return z.NEVER;
  });

const choice = <T extends string, D extends T | undefined>(allowed: readonly T[], fallback: D) =>
  text().transform((raw, ctx): T | D => {
    const value = raw?.toLowerCase();
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    ctx.addIssue({ code: 'custom', message: `must be one of ${allowed.join(', ')}, got "${raw}"` });
    return z.NEVER;
  });

const matching = (pattern: RegExp, expected: string) =>
  text().refine((raw) => raw === undefined || pattern.test(raw), {
    error: (issue) => `must ${expected}, got "${String(issue.input)}"`,
  });

/** Comma list, entries trimmed, empty ones dropped; undefined when nothing is listed. */
const list = () =>
  text().transform((raw) => {
    const items = raw
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return items?.length ? items : undefined;
  });

const DAY_MS = 24 * 3600 * 1000;

export const chatbotEnvSchema = {
  NODE_ENV: text(),
  PORT: integer(0, 65535, 3000),
  HOST: text(),
  // Redis
  REDIS_URL: matching(/^rediss?:\/\/\S+$/, 'look like redis://host:6379 or rediss://…'),
  REDIS_CLUSTER_NODES: text(),
  REDIS_SENTINELS: text(),
  REDIS_SENTINEL_NAME: text(),
  REDIS_PASSWORD: text(),
  REDIS_USERNAME: text(),
  REDIS_TLS: flag(false),
  REDIS_REQUIRED: flag(false),
  REDIS_COMMAND_TIMEOUT_MS: integer(1, 60_000, 50),
  REDIS_CONNECT_TIMEOUT_MS: integer(1, 60_000, 2000),
  CACHE_PREFIX: matching(
    /^[A-Za-z0-9_.:-]{1,64}$/,
    'only contain letters, digits and _ . : - (1-64 characters)',
  ),
  CACHE_TTL_MS: integer(1000, 30 * DAY_MS, 3600 * 1000),
  CACHE_SHARE_ACROSS_TENANTS: flag(false),
  // Upstream model
  LLM_PROVIDER: choice(['openai', 'mock'] as const, undefined),
  LLM_BASE_URL: matching(/^https?:\/\/\S+$/, 'be an http(s) URL'),
  LLM_API_KEY: text(),
  OPENAI_API_KEY: text(),
  LLM_MODEL: text(),
  LLM_TIMEOUT_MS: integer(100, 600_000, 60_000),
  LLM_MAX_RETRIES: integer(0, 10, 2),
  LLM_MOCK_LATENCY_MS: integer(0, 60_000, 200),
  // Cost guard
  LLM_ALLOWED_MODELS: list(),
  LLM_MAX_N: integer(1, 128, 1),
  LLM_MAX_TOKENS: integer(1, 10_000_000, 4096),
  RATE_LIMIT_RPM: integer(1, 1_000_000_000, undefined),
  TOKEN_BUDGET_PER_DAY: integer(1, Number.MAX_SAFE_INTEGER, undefined),
  // Auth
  AUTH_MODE: choice(['keys', 'open'] as const, 'keys'),
  CHATBOT_API_KEYS: text(),
  ADMIN_TOKEN: text(),
  // Chat
  CONVERSATION_TTL_MS: integer(1000, 30 * DAY_MS, DAY_MS),
  CONVERSATION_MAX_MESSAGES: integer(2, 1000, 20),
  SYSTEM_PROMPT: text(),
  BODY_LIMIT_BYTES: integer(1024, 64 * 1024 * 1024, 1024 * 1024),
  MAX_MESSAGES: integer(1, 10_000, 256),
  MAX_MESSAGE_CHARS: integer(1, 1_000_000, 32_000),
  SHUTDOWN_DRAIN_MS: integer(0, 600_000, 0),
  SHUTDOWN_TIMEOUT_MS: integer(0, 600_000, 10_000),
};

type Schema = typeof chatbotEnvSchema;
export type ChatbotEnv = { [K in keyof Schema]: z.output<Schema[K]> };

/**
 * Every variable through its schema. A bad value is reported as `NAME <why>` and replaced by its default, so the
 * checks that combine variables still run and the deployment learns every problem in one round trip.
 */
export function readChatbotEnv(env: Record<string, string | undefined>, problems: string[]): ChatbotEnv {
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(chatbotEnvSchema)) {
    const result = (schema as z.ZodType).safeParse(env[name]);
    if (result.success) {
      values[name] = result.data;
    } else {
      problems.push(`${name} ${result.error.issues[0]?.message ?? 'is invalid'}`);
      values[name] = (schema as z.ZodType).parse(undefined);
    }
  }
  return values as ChatbotEnv;
}
