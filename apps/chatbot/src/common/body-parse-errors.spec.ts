import { describe, expect, it } from '@jest/globals';
import { BadRequestException } from '@nestjs/common';
import { bodyParseFailure } from './body-parse-errors.js';

describe('bodyParseFailure (one mapping for Express and Fastify)', () => {
  it('maps Express body-parser errors, also when Nest wrapped them as the cause of an HttpException', () => {
    const raw = Object.assign(new SyntaxError('Unexpected end of JSON input'), {
      type: 'entity.parse.failed',
      body: '{\n "a": 1,',
      status: 400,
    });
    const failure = bodyParseFailure(new BadRequestException('generic', { cause: raw }));
    expect(failure).toEqual({
      status: 400,
      message:
        'We could not parse the JSON body of your request at line 2, column 9: the JSON text ends before it is complete.',
      code: 'invalid_json',
    });
    const large = Object.assign(new Error('request entity too large'), {
      type: 'entity.too.large',
      length: 5000,
      limit: 1024,
    });
    expect(bodyParseFailure(large)?.message).toBe('Request body too large: 5000 bytes, limit is 1024 bytes.');
  });

  it('maps Fastify content-type parser errors to the same messages', () => {
    const tooLarge = Object.assign(new Error('Request body is too large'), {
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      statusCode: 413,
    });
    expect(bodyParseFailure(tooLarge, { limitBytes: 1024, contentLength: '5000' })).toEqual({
      status: 413,
      message: 'Request body too large: 5000 bytes, limit is 1024 bytes.',
      code: 'request_too_large',
    });
    const json = Object.assign(
      new SyntaxError(`Expected property name or '}' in JSON at position 1 (line 1 column 2)`),
      { statusCode: 400 },
    );
    expect(bodyParseFailure(json)?.message).toBe(
      `We could not parse the JSON body of your request at line 1, column 2: Expected property name or '}'.`,
    );
    expect(
      bodyParseFailure(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_EMPTY_JSON_BODY' }))?.code,
    ).toBe('invalid_json');
  });

  it('leaves other errors alone', () => {
    expect(bodyParseFailure(new Error('boom'))).toBeUndefined();
    expect(bodyParseFailure(new SyntaxError('from our own code'))).toBeUndefined();
    expect(bodyParseFailure(null)).toBeUndefined();
  });
});
