import {
  resolveRedisCacheOptions,
  type RedisCacheModuleOptions,
  type RedisNodeAddress,
} from '@llm-cache/redis-cache';
import { readChatbotEnv, type ChatbotEnv } from './chatbot-env.schema.js';

export type LlmProviderKind = 'openai' | 'mock';

export interface TenantApiKey {
  tenant: string;
  key: string;
}

/** The chatbot's whole configuration, parsed and validated from the environment once at start-up. */
export interface ChatbotConfig {
  port: number;
  /** Interface to listen on; unset → all interfaces (what a container needs). */
  host?: string;
  redis: RedisCacheModuleOptions;
  /** Fail readiness when Redis is down (default false: the cache is fail-open, Redis is an accelerator). */
  redisRequired: boolean;
  cacheTtlMs: number;
  llm: {
    provider: LlmProviderKind;
    /** Why this provider was chosen, for the start-up banner. */
    providerReason: string;
    baseURL?: string;
    apiKey?: string;
    model: string;
    timeoutMs: number;
    maxRetries: number;
    mockLatencyMs: number;
  };
  /** NODE_ENV=production: closed by default, stricter secrets, JSON logs. */
  production: boolean;
  /** `open` (AUTH_MODE=open) accepts running without CHATBOT_API_KEYS in production; `keys` otherwise. */
  authMode: 'keys' | 'open';
  /** null → open dev mode: no key required, every caller is tenant `default`. */
  apiKeys: TenantApiKey[] | null;
  /** Let tenants share LLM cache entries (CACHE_SHARE_ACROSS_TENANTS); a refresh then needs the admin token. */
  shareAcrossTenants: boolean;
  /** What one caller may spend upstream. */
  costGuard: {
    /** Models a request may name; null → any (`LLM_ALLOWED_MODELS=*`). */
    allowedModels: string[] | null;
    /** Upper bound of `n`. */
    maxN: number;
    /** Upper bound of `max_tokens` / `max_completion_tokens`. */
    maxTokens: number;
    /** Requests per minute per tenant, shared by every replica; undefined → no limit. */
    requestsPerMinute?: number;
    /** Upstream tokens per tenant per UTC day (cache hits cost nothing); undefined → no limit. */
    tokensPerDay?: number;
  };
  /** undefined → admin routes disabled. */
  adminToken?: string;
  conversation: { ttlMs: number; maxMessages: number };
  systemPrompt: string;
  bodyLimitBytes: number;
  /** Upper bound of `messages` in one chat-completion request. */
  maxMessages: number;
  /** Upper bound of the `message` of `POST /chat`, in characters. */
  maxMessageChars: number;
  /**
   * After SIGTERM: how long readiness already fails while the listener still serves, so endpoints controllers and
   * load balancers stop routing here before the port closes (0 for local runs).
   */
  shutdownDrainMs: number;
  /** How long shutdown waits for in-flight requests before closing their connections. */
  shutdownTimeoutMs: number;
}

export const DEFAULT_MODEL_OPENAI = 'gpt-4o-mini';
export const DEFAULT_MODEL_MOCK = 'mock-gpt';
const DEV_SECRET_MIN_LENGTH = 8;
const PRODUCTION_SECRET_MIN_LENGTH = 16;
export const DEFAULT_SYSTEM_PROMPT =
  'You are the product assistant of this shop. Answer briefly and only about our products.';

/** A configuration problem; the message names every offending variable. */
export class ChatbotConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    // Values are echoed back to help ("got …"): never with a URL's password in them.
    const masked = problems.map(maskUrlCredentials);
    super(`Invalid configuration:\n  - ${masked.join('\n  - ')}`);
    this.problems = masked;
    this.name = 'ChatbotConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Parses the environment into a typed config: each variable through its schema (chatbot-env.schema.ts), then the
 * rules that combine variables. Every problem is collected and reported at once (with the variable name), so a
 * misconfigured deployment fails in one round trip instead of one variable at a time.
 */
export function loadChatbotConfig(env: Env = process.env): ChatbotConfig {
  const problems: string[] = [];
  const e = readChatbotEnv(env, problems);
  const redis = readRedis(e, problems);
  const llm = readLlm(e, problems);
  const apiKeys = readApiKeys(e.CHATBOT_API_KEYS, problems);
  const allowedModels = e.LLM_ALLOWED_MODELS ?? [llm.model];
  const config: ChatbotConfig = {
    port: e.PORT,
    host: e.HOST,
    redis,
    redisRequired: e.REDIS_REQUIRED,
    cacheTtlMs: e.CACHE_TTL_MS,
    llm,
    production: isProduction(env),
    authMode: e.AUTH_MODE,
    apiKeys,
    shareAcrossTenants: e.CACHE_SHARE_ACROSS_TENANTS,
    costGuard: {
      allowedModels: allowedModels.includes('*') ? null : allowedModels,
      maxN: e.LLM_MAX_N,
      maxTokens: e.LLM_MAX_TOKENS,
      requestsPerMinute: e.RATE_LIMIT_RPM,
      tokensPerDay: e.TOKEN_BUDGET_PER_DAY,
    },
    adminToken: e.ADMIN_TOKEN,
    conversation: { ttlMs: e.CONVERSATION_TTL_MS, maxMessages: e.CONVERSATION_MAX_MESSAGES },
    systemPrompt: e.SYSTEM_PROMPT ?? DEFAULT_SYSTEM_PROMPT,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    maxMessages: e.MAX_MESSAGES,
    maxMessageChars: e.MAX_MESSAGE_CHARS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
  checkSecrets(config, problems);
  if (problems.length) throw new ChatbotConfigError(problems);
  return config;
}

/** The one reading of NODE_ENV (main.ts needs it before the config exists, to choose the log format). */
export function isProduction(env: Env = process.env): boolean {
  return env.NODE_ENV?.trim().toLowerCase() === 'production';
}

/** Production is closed by default: no keys is an error unless AUTH_MODE=open says so, and secrets are long. */
function checkSecrets(config: ChatbotConfig, problems: string[]): void {
  const minLength = config.production ? PRODUCTION_SECRET_MIN_LENGTH : DEV_SECRET_MIN_LENGTH;
  if (config.production && config.apiKeys === null && config.authMode !== 'open') {
    problems.push(
      'CHATBOT_API_KEYS is required when NODE_ENV=production (tenant:key,…); set AUTH_MODE=open to run an open API on purpose',
    );
  }
  for (const [i, { key }] of (config.apiKeys ?? []).entries()) {
    if (key.length < minLength) {
      problems.push(`CHATBOT_API_KEYS entry ${i + 1}: the key must be at least ${minLength} characters`);
    }
  }
  const admin = config.adminToken;
  if (admin !== undefined && admin.length < minLength) {
    problems.push(`ADMIN_TOKEN must be at least ${minLength} characters`);
  }
  if (admin !== undefined && config.apiKeys?.some((k) => k.key === admin)) {
    problems.push('ADMIN_TOKEN must differ from every CHATBOT_API_KEYS key (a tenant would be an admin)');
  }
}

/** `scheme://user:password@host` → `scheme://***@host`, for anything that prints a configured URL. */
export function maskUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@/\s]*@/gi, '$1***@');
}

function readRedis(e: ChatbotEnv, problems: string[]): RedisCacheModuleOptions {
  const url = e.REDIS_URL;
  const clusterNodes = e.REDIS_CLUSTER_NODES;
  const sentinels = e.REDIS_SENTINELS;
  const sentinelName = e.REDIS_SENTINEL_NAME;
  const chosen = [url && 'REDIS_URL', clusterNodes && 'REDIS_CLUSTER_NODES', sentinels && 'REDIS_SENTINELS'];
  if (chosen.filter(Boolean).length > 1) {
    problems.push(`set only one of ${chosen.filter(Boolean).join(', ')}`);
  }
  if (sentinels && !sentinelName)
    problems.push('REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the master name)');
  const options: RedisCacheModuleOptions = {
    keyPrefix: e.CACHE_PREFIX ?? 'llm-cache',
    defaultTtlMs: e.CACHE_TTL_MS,
    commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS,
    password: e.REDIS_PASSWORD,
    username: e.REDIS_USERNAME,
    tls: e.REDIS_TLS || undefined,
  };
  if (url) options.url = url;
  else if (clusterNodes)
    options.cluster = { nodes: parseNodes('REDIS_CLUSTER_NODES', clusterNodes, problems) };
  else if (sentinels && sentinelName) {
    options.sentinel = { sentinels: parseNodes('REDIS_SENTINELS', sentinels, problems), name: sentinelName };
  } else options.inMemory = true;
  if (!problems.length) {
    try {
      // The module validates again at start-up; asking it now reports its complaints with the others, at once.
      resolveRedisCacheOptions(options);
    } catch (err) {
      problems.push(`Redis settings (REDIS_*): ${(err as Error).message}`);
    }
  }
  return options;
}

function readLlm(e: ChatbotEnv, problems: string[]): ChatbotConfig['llm'] {
  const apiKey = e.LLM_API_KEY ?? e.OPENAI_API_KEY;
  const baseURL = e.LLM_BASE_URL;
  const explicit = e.LLM_PROVIDER;
  let provider: LlmProviderKind;
  let providerReason: string;
  if (explicit === 'mock') {
    provider = 'mock';
    providerReason = 'LLM_PROVIDER=mock';
  } else if (explicit === 'openai') {
    provider = 'openai';
    providerReason = 'LLM_PROVIDER=openai';
    // A local OpenAI-compatible server (Ollama, vLLM) usually needs no key; api.openai.com always does.
    if (!apiKey && !baseURL) problems.push('LLM_PROVIDER=openai needs LLM_API_KEY (or OPENAI_API_KEY)');
  } else if (apiKey) {
    provider = 'openai';
    providerReason = 'LLM_API_KEY is set';
  } else {
    provider = 'mock';
    providerReason = 'no LLM_API_KEY / OPENAI_API_KEY set';
  }
  return {
    provider,
    providerReason,
    baseURL,
    apiKey: provider === 'openai' ? (apiKey ?? 'not-needed') : undefined,
    model: e.LLM_MODEL ?? (provider === 'mock' ? DEFAULT_MODEL_MOCK : DEFAULT_MODEL_OPENAI),
    timeoutMs: e.LLM_TIMEOUT_MS,
    maxRetries: e.LLM_MAX_RETRIES,
    mockLatencyMs: e.LLM_MOCK_LATENCY_MS,
  };
}

/** A tenant name: it becomes part of Redis keys, so a restricted alphabet. */
export const TENANT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** `tenant:key,tenant:key` → entries. Tenants become part of Redis keys, so their alphabet is restricted. */
export function readApiKeys(raw: string | undefined, problems: string[]): TenantApiKey[] | null {
  if (raw === undefined) return null;
  const entries: TenantApiKey[] = [];
  const seen = new Set<string>();
  for (const [i, item] of raw.split(',').entries()) {
    const part = item.trim();
    if (!part) continue;
    const colon = part.indexOf(':');
    const tenant = colon > 0 ? part.slice(0, colon) : '';
    const key = colon > 0 ? part.slice(colon + 1) : '';
    if (!TENANT_PATTERN.test(tenant) || key.length < DEV_SECRET_MIN_LENGTH) {
      problems.push(
        `CHATBOT_API_KEYS entry ${i + 1} must be tenant:key (tenant: letters, digits, _ or -; key: at least 8 characters)`,
      );
      continue;
    }
    if (seen.has(key)) problems.push(`CHATBOT_API_KEYS entry ${i + 1} repeats a key used by another tenant`);
    seen.add(key);
    entries.push({ tenant, key });
  }
  if (!entries.length && !problems.some((p) => p.startsWith('CHATBOT_API_KEYS'))) {
    problems.push('CHATBOT_API_KEYS is set but lists no tenant:key entry (unset it for open dev mode)');
  }
  return entries;
}

function parseNodes(name: string, raw: string, problems: string[]): RedisNodeAddress[] {
  const nodes: RedisNodeAddress[] = [];
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(.+):(\d{1,5})$/.exec(part);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) {
      problems.push(`${name} entries must be host:port, got "${part}"`);
      continue;
    }
    nodes.push({ host: m[1], port });
  }
  if (!nodes.length) problems.push(`${name} must list at least one host:port`);
  return nodes;
}
