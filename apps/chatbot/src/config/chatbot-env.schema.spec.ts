import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chatbotEnvSchema, readChatbotEnv } from './chatbot-env.schema.js';

describe('chatbotEnvSchema', () => {
  it('gives every variable its default when nothing is set, and treats blank values as unset', () => {
    const problems: string[] = [];
    const unset = readChatbotEnv({}, problems);
    expect(readChatbotEnv({ PORT: '  ', LLM_MAX_N: '', AUTH_MODE: ' ' }, problems)).toEqual(unset);
    expect(problems).toEqual([]);
    expect(unset).toMatchObject({ PORT: 3000, LLM_MAX_N: 1, LLM_MAX_TOKENS: 4096, AUTH_MODE: 'keys' });
    // No drain for local runs: Ctrl-C stops at once; Kubernetes sets it in the ConfigMap.
    expect(unset).toMatchObject({ SHUTDOWN_DRAIN_MS: 0, SHUTDOWN_TIMEOUT_MS: 10_000 });
    expect(unset.RATE_LIMIT_RPM).toBeUndefined();
  });

  it('names every offending variable and keeps the default for it', () => {
    const problems: string[] = [];
    const env = readChatbotEnv(
      { PORT: '99999', REDIS_TLS: 'maybe', AUTH_MODE: 'closed', LLM_MAX_N: '2' },
      problems,
    );
    expect(problems).toEqual([
      'PORT must be an integer from 0 to 65535, got "99999"',
      'REDIS_TLS must be true or false, got "maybe"',
      'AUTH_MODE must be one of keys, open, got "closed"',
    ]);
    expect(env).toMatchObject({ PORT: 3000, REDIS_TLS: false, AUTH_MODE: 'keys', LLM_MAX_N: 2 });
  });

  it('is documented: every variable appears in the README configuration table', () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../../../README.md'), 'utf8');
    const undocumented = Object.keys(chatbotEnvSchema).filter((name) => !readme.includes(`\`${name}\``));
    expect(undocumented).toEqual([]);
  });
});
