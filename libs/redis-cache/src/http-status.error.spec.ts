import { describe, expect, it } from '@jest/globals';
import { defaultErrorType, HttpStatusError } from './http-status.error.js';

class TeapotError extends HttpStatusError {
  constructor() {
    super('short and stout', { status: 418, code: 'teapot', cause: new Error('kettle') });
  }
}

describe('HttpStatusError', () => {
  it("renders OpenAI's error body with the subclass's status and fields", () => {
    const err = new HttpStatusError('bad field', { status: 400, param: 'model' });
    expect(err.toJSON()).toEqual({
      error: { message: 'bad field', type: 'invalid_request_error', param: 'model', code: null },
    });
    expect(JSON.parse(JSON.stringify(err))).toEqual(err.toJSON());
    const teapot = new TeapotError();
    expect(teapot).toBeInstanceOf(Error);
    expect(teapot.name).toBe('TeapotError');
    expect(teapot).toMatchObject({ status: 418, code: 'teapot', param: null });
    expect((teapot.cause as Error).message).toBe('kettle');
  });

  it("defaults the type from the status the way OpenAI's API does", () => {
    expect([401, 403, 404, 429, 500, 503, 422].map(defaultErrorType)).toEqual([
      'authentication_error',
      'permission_error',
      'not_found_error',
      'rate_limit_error',
      'server_error',
      'server_error',
      'invalid_request_error',
    ]);
  });
});
