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
  ])('rejects %j naming %s', (env, name) => {
    const problems = problemsOf(env as Record<string, string>);
    expect(problems.join('\n')).toContain(name);
  });

  it('reports every problem at once', () => {
    expect(problemsOf({ PORT: 'x', LLM_PROVIDER: 'y', ADMIN_TOKEN: 'z' })).toHaveLength(3);
  });

  it('treats empty variables as unset', () => {
    expect(loadChatbotConfig({ PORT: '', REDIS_URL: ' ', CHATBOT_API_KEYS: '' }).redis.inMemory).toBe(true);
  });
});
