/**
 * `HttpStatusErrorFilter` in a plain Nest app (no catch-all filter of its own), over real HTTP on Express and through
 * Fastify's injector: the packages' errors answer with their status and OpenAI's error body instead of Nest's 500.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { CacheControlError, HttpStatusError, HttpStatusErrorFilter } from '@llm-cache/redis-cache';

@Controller()
class FailingController {
  @Get('bad-directive')
  badDirective(): never {
    throw new CacheControlError('max-age must be a non-negative whole number of seconds', 'max-age');
  }

  @Get('upstream')
  upstream(): never {
    throw new HttpStatusError('upstream timed out', {
      status: 504,
      type: 'timeout',
      code: 'upstream_timeout',
    });
  }

  @Get('unexpected')
  unexpected(): never {
    throw new Error('not ours');
  }
}

const expected = {
  '/bad-directive': {
    status: 400,
    body: {
      error: {
        message: 'max-age must be a non-negative whole number of seconds',
        type: 'invalid_request_error',
        param: 'max-age',
        code: null,
      },
    },
  },
  '/upstream': {
    status: 504,
    body: {
      error: { message: 'upstream timed out', type: 'timeout', param: null, code: 'upstream_timeout' },
    },
  },
};

async function compile() {
  return Test.createTestingModule({ controllers: [FailingController] }).compile();
}

describe('HttpStatusErrorFilter on Express', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = (await compile()).createNestApplication({ logger: false });
    app.useGlobalFilters(new HttpStatusErrorFilter(app.get(HttpAdapterHost)));
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
  });

  it.each(Object.entries(expected))(
    'answers %s with its status and the OpenAI error body',
    async (path, want) => {
      const res = await request(app.getHttpServer()).get(path);
      expect(res.status).toBe(want.status);
      expect(res.body).toEqual(want.body);
    },
  );

  it('leaves other errors to Nest', async () => {
    expect((await request(app.getHttpServer()).get('/unexpected')).status).toBe(500);
  });
});

describe('HttpStatusErrorFilter on Fastify', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    app = (await compile()).createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    app.useGlobalFilters(new HttpStatusErrorFilter(app.get(HttpAdapterHost)));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app?.close();
  });

  it.each(Object.entries(expected))(
    'answers %s with its status and the OpenAI error body',
    async (path, want) => {
      const res = await app.inject({ method: 'GET', url: path });
      expect(res.statusCode).toBe(want.status);
      expect(res.json()).toEqual(want.body);
    },
  );
});
