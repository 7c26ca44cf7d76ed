import { describe, expect, it } from '@jest/globals';
import { ChatbotConfigError, loadChatbotConfig } from './chatbot.config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadChatbotConfig(env);
  } catch (err) {
    if (err instanceof ChatbotConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ChatbotConfigError');
}

describe('loadChatbotConfig', () => {
  it('serves a first run with nothing configured: in-memory cache, mock provider, open mode, admin disabled', () => {
    const config = loadChatbotConfig({});
    expect(config.port).toBe(3000);
    expect(config.redis.inMemory).toBe(true);
    expect(config.llm.provider).toBe('mock');
    expect(config.llm.model).toContain('mock');
    expect(config.apiKeys).toBeNull();
    expect(config.adminToken).toBeUndefined();
    expect(config.redisRequired).toBe(false);
  });

  it('chooses the openai provider when a key is set, falling back from LLM_API_KEY to OPENAI_API_KEY', () => {
    expect(loadChatbotConfig({ OPENAI_API_KEY: 'sk-a' }).llm).toMatchObject({
      provider: 'openai',
      apiKey: 'sk-a',
    });
    expect(loadChatbotConfig({ OPENAI_API_KEY: 'sk-a', LLM_API_KEY: 'sk-b' }).llm.apiKey).toBe('sk-b');
    expect(loadChatbotConfig({ LLM_API_KEY: 'sk-b', LLM_PROVIDER: 'mock' }).llm.provider).toBe('mock');
  });

  it('accepts an OpenAI-compatible base URL without a key (local servers) but not api.openai.com without one', () => {
    expect(
      loadChatbotConfig({ LLM_PROVIDER: 'openai', LLM_BASE_URL: 'http://127.0.0.1:11434/v1' }).llm,
    ).toMatchObject({
      provider: 'openai',
      baseURL: 'http://127.0.0.1:11434/v1',
    });
    expect(problemsOf({ LLM_PROVIDER: 'openai' })).toEqual([expect.stringContaining('LLM_API_KEY')]);
  });

  it('parses the Redis target from REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS', () => {
    expect(loadChatbotConfig({ REDIS_URL: 'redis://127.0.0.1:6380' }).redis).toMatchObject({
      url: 'redis://127.0.0.1:6380',
    });
    expect(loadChatbotConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001' }).redis.cluster?.nodes).toEqual([
      { host: 'a', port: 7000 },
      { host: 'b', port: 7001 },
    ]);
    expect(
      loadChatbotConfig({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'mymaster' }).redis.sentinel,
    ).toEqual({ sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' });
  });

  it('keeps the adaptive Redis command deadline on unless REDIS_ADAPTIVE_TIMEOUT=false', () => {
    const url = 'redis://127.0.0.1:6379';
    expect(loadChatbotConfig({ REDIS_URL: url }).redis.adaptiveTimeout).toBeUndefined();
    expect(loadChatbotConfig({ REDIS_URL: url, REDIS_ADAPTIVE_TIMEOUT: 'false' }).redis.adaptiveTimeout).toBe(
      false,
    );
  });

  it('maps tenants to API keys', () => {
    expect(loadChatbotConfig({ CHATBOT_API_KEYS: 'acme:key-acme-1, globex:key-globex-1' }).apiKeys).toEqual([
      { tenant: 'acme', key: 'key-acme-1' },
      { tenant: 'globex', key: 'key-globex-1' },
    ]);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ CACHE_TTL_MS: '-5' }, 'CACHE_TTL_MS'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'b:2' }, 'REDIS_URL, REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'nohostport' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_SENTINELS: 's:26379' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_TLS: 'maybe' }, 'REDIS_TLS'],
    [{ REDIS_REQUIRED: 'sometimes' }, 'REDIS_REQUIRED'],
    [{ LLM_PROVIDER: 'anthropic' }, 'LLM_PROVIDER'],
    [{ LLM_BASE_URL: 'ftp://x' }, 'LLM_BASE_URL'],
    [{ CHATBOT_API_KEYS: 'nokey' }, 'CHATBOT_API_KEYS'],
    [{ CHATBOT_API_KEYS: 'a:short' }, 'CHATBOT_API_KEYS'],
    [{ CHATBOT_API_KEYS: 'a:same-key-1,b:same-key-1' }, 'CHATBOT_API_KEYS'],
    [{ CHATBOT_API_KEYS: ' , ' }, 'CHATBOT_API_KEYS'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ CACHE_PREFIX: 'has space' }, 'CACHE_PREFIX'],
    [{ CONVERSATION_MAX_MESSAGES: '1' }, 'CONVERSATION_MAX_MESSAGES'],
    [{ BODY_LIMIT_BYTES: '1.5' }, 'BODY_LIMIT_BYTES'],
    [{ AUTH_MODE: 'sometimes' }, 'AUTH_MODE'],
    [{ LLM_MAX_N: '0' }, 'LLM_MAX_N'],
    [{ LLM_MAX_TOKENS: 'lots' }, 'LLM_MAX_TOKENS'],
    [{ RATE_LIMIT_RPM: '0' }, 'RATE_LIMIT_RPM'],
    [{ TOKEN_BUDGET_PER_DAY: '-1' }, 'TOKEN_BUDGET_PER_DAY'],
    [{ CACHE_SHARE_ACROSS_TENANTS: 'perhaps' }, 'CACHE_SHARE_ACROSS_TENANTS'],
    [{ CHATBOT_API_KEYS: 'a:admin-and-key-1', ADMIN_TOKEN: 'admin-and-key-1' }, 'ADMIN_TOKEN must differ'],
  ])('rejects %j naming %s', (env, name) => {
    const problems = problemsOf(env as Record<string, string>);
    expect(problems.join('\n')).toContain(name);
  });

  it('reports every problem at once', () => {
    expect(problemsOf({ PORT: 'x', LLM_PROVIDER: 'y', ADMIN_TOKEN: 'z' })).toHaveLength(3);
  });

  describe('in production (NODE_ENV=production)', () => {
    const PROD = { NODE_ENV: 'production' };
    const LONG_KEY = 'acme:key-acme-0123456789';

    it('refuses to start without CHATBOT_API_KEYS (unset or empty) unless AUTH_MODE=open', () => {
      expect(problemsOf(PROD).join('\n')).toMatch(/CHATBOT_API_KEYS is required when NODE_ENV=production/);
      expect(problemsOf({ ...PROD, CHATBOT_API_KEYS: ' ' }).join('\n')).toMatch(
        /CHATBOT_API_KEYS is required/,
      );
      expect(loadChatbotConfig({ ...PROD, AUTH_MODE: 'open' })).toMatchObject({
        production: true,
        authMode: 'open',
        apiKeys: null,
      });
      expect(loadChatbotConfig({ CHATBOT_API_KEYS: '' }).apiKeys).toBeNull();
    });

    it('needs keys and ADMIN_TOKEN of at least 16 characters, and an ADMIN_TOKEN that is no tenant key', () => {
      expect(problemsOf({ ...PROD, CHATBOT_API_KEYS: 'acme:key-acme-1' }).join('\n')).toMatch(
        /entry 1: the key must be at least 16 characters/,
      );
      expect(
        problemsOf({ ...PROD, CHATBOT_API_KEYS: LONG_KEY, ADMIN_TOKEN: 'admin-123' }).join('\n'),
      ).toMatch(/ADMIN_TOKEN must be at least 16 characters/);
      expect(
        problemsOf({ ...PROD, CHATBOT_API_KEYS: LONG_KEY, ADMIN_TOKEN: 'key-acme-0123456789' }).join('\n'),
      ).toMatch(/ADMIN_TOKEN must differ/);
      expect(
        loadChatbotConfig({ ...PROD, CHATBOT_API_KEYS: LONG_KEY, ADMIN_TOKEN: 'admin-0123456789abcdef' })
          .apiKeys,
      ).toHaveLength(1);
    });
  });

  it('reads the cost guard: allowed models default to LLM_MODEL alone, * allows any, limits off unless set', () => {
    expect(loadChatbotConfig({ LLM_MODEL: 'm1' }).costGuard).toEqual({
      allowedModels: ['m1'],
      maxN: 1,
      maxTokens: 4096,
      requestsPerMinute: undefined,
      tokensPerDay: undefined,
    });
    expect(loadChatbotConfig({ LLM_ALLOWED_MODELS: 'a, b,' }).costGuard.allowedModels).toEqual(['a', 'b']);
    expect(loadChatbotConfig({ LLM_ALLOWED_MODELS: '*' }).costGuard.allowedModels).toBeNull();
    expect(
      loadChatbotConfig({ RATE_LIMIT_RPM: '60', TOKEN_BUDGET_PER_DAY: '100000', LLM_MAX_N: '4' }).costGuard,
    ).toMatchObject({ requestsPerMinute: 60, tokensPerDay: 100000, maxN: 4 });
  });

  it('never echoes a URL password in a configuration error', () => {
    const message = (() => {
      try {
        loadChatbotConfig({ REDIS_URL: 'redis://user:s3cret-pass@host:6379 trailing' });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('redis://***@host');
    expect(message).not.toContain('s3cret-pass');
  });

  it('treats empty variables as unset', () => {
    expect(loadChatbotConfig({ PORT: '', REDIS_URL: ' ', CHATBOT_API_KEYS: '' }).redis.inMemory).toBe(true);
  });
});
