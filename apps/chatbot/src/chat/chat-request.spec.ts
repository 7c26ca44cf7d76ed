import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../common/api-error.js';
import { loadChatbotConfig } from '../config/chatbot.config.js';
import { parseChatRequest } from './chat-request.js';

const config = loadChatbotConfig({ MAX_MESSAGE_CHARS: '50' });

function rejection(body: unknown): { status: number; param: string | null; message: string } {
  try {
    parseChatRequest(body, config);
  } catch (err) {
    if (err instanceof ApiError) return { status: err.status, param: err.param, message: err.message };
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('parseChatRequest', () => {
  it('accepts a message with the optional fields', () => {
    expect(
      parseChatRequest(
        { message: 'hi', conversationId: 'c-1', model: 'm', temperature: 0, max_tokens: 5 },
        config,
      ),
    ).toEqual({ message: 'hi', conversationId: 'c-1', model: 'm', temperature: 0, max_tokens: 5 });
  });

  it('treats null optional fields as absent', () => {
    expect(parseChatRequest({ message: 'hi', conversationId: null, temperature: null }, config)).toEqual({
      message: 'hi',
      conversationId: undefined,
      model: undefined,
      temperature: undefined,
      max_tokens: undefined,
    });
  });

  it('passes completion parameters through as given: the LLM request validator checks them once, for every route', () => {
    expect(
      parseChatRequest({ message: 'hi', temperature: 9, max_tokens: 2.5, model: ['a'] }, config),
    ).toMatchObject({
      temperature: 9,
      max_tokens: 2.5,
      model: ['a'],
    });
  });

  it.each([
    [[], null, /JSON object/],
    [{}, 'message', /Missing required parameter/],
    [{ message: '' }, 'message', /must not be empty/],
    [{ message: 'x'.repeat(51) }, 'message', /maximum is 50/],
    [{ message: 'hi', conversationId: 'a:b' }, 'conversationId', /must match/],
    [{ message: 'hi', extra: true }, 'extra', /Unrecognized request argument: extra/],
  ])('rejects %j with a 400 naming %s', (body, param, message) => {
    const err = rejection(body);
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    expect(err.message).toMatch(message);
  });
});
