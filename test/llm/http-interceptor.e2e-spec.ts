import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  Body,
  Catch,
  Controller,
  Injectable,
  Module,
  Post,
  type ArgumentsHost,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, HttpAdapterHost } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import OpenAI from 'openai';
import request from 'supertest';
import { RedisCacheModule } from '@llm-cache/redis-cache';
import {
  CacheLlmResponse,
  LlmCacheModule,
  LlmCacheService,
  OpenAiProvider,
  validateChatCompletionRequest,
} from '@llm-cache/llm';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { HTTP_PLATFORMS, startOnPlatform } from '../harness/http-platform.js';
import { RedisServer } from '../harness/redis-server.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** The fixture app's "auth": the tenant comes from a server-side lookup of the API key, never from the body. */
@Injectable()
class ApiKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    req.tenant = { 'key-alice': 'alice', 'key-bob': 'bob' }[key];
    return true;
  }
}

/** Formats anything with a numeric `status` as an OpenAI error body, through the adapter (Express or Fastify). */
@Catch()
class StatusFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(err: any, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse();
    const status =
      typeof err?.status === 'number'
        ? err.status
        : typeof err?.getStatus === 'function'
          ? err.getStatus()
          : 500;
    this.adapterHost.httpAdapter.reply(
      res,
      { error: { message: err?.message, type: err?.type ?? 'error', param: err?.param ?? null } },
      status,
    );
  }
}

@Controller('v1')
class ChatController {
  constructor(private readonly llm: LlmCacheService) {}

  @Post('chat/completions')
  @CacheLlmResponse({ ttlMs: 120_000 })
  async complete(@Body() body: unknown) {
    const req = validateChatCompletionRequest(body);
    if (req.stream) return (await this.llm.streamTextWithCache(req)).stream;
    return (await this.llm.generateTextWithCache(req)).response;
  }
}

/** `@CacheLlmResponse()` on the class: every route is an LLM route; a method's own options override the class's. */
@Controller('class-level')
@CacheLlmResponse({ ttlMs: 30_000 })
class ClassLevelController {
  constructor(private readonly llm: LlmCacheService) {}

  @Post('inherits')
  async inherits(@Body() body: unknown) {
    return (await this.llm.generateTextWithCache(validateChatCompletionRequest(body))).response;
  }

  @Post('overrides')
  @CacheLlmResponse({ ttlMs: 90_000 })
  async overrides(@Body() body: unknown) {
    return (await this.llm.generateTextWithCache(validateChatCompletionRequest(body))).response;
  }
}

describe.each(HTTP_PLATFORMS)('@CacheLlmResponse over real HTTP on %s', (platform) => {
  let redis: RedisServer;
  let upstream: FakeOpenAiServer;
  let app: INestApplication;
  let baseURL: string;
  let llm: LlmCacheService;

  beforeAll(async () => {
    redis = await RedisServer.start();
    upstream = await new FakeOpenAiServer({ latencyMs: 10, chunkDelayMs: 2 }).start();
    const provider = new OpenAiProvider({ apiKey: 'k', baseURL: upstream.baseURL, maxRetries: 0 });
    @Module({
      imports: [
        RedisCacheModule.forRoot({ isGlobal: true, url: redis.url }),
        LlmCacheModule.forRoot({ provider }),
      ],
      controllers: [ChatController, ClassLevelController],
      providers: [
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: StatusFilter },
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    let url: string;
    ({ app, url } = await startOnPlatform(moduleRef, platform));
    baseURL = `${url}/v1`;
    llm = app.get(LlmCacheService);
  });
  afterAll(async () => {
    await app?.close();
    await upstream?.stop();
    await redis?.stop();
  });
  beforeEach(async () => {
    await llm.clearLlmCache();
    upstream.reset();
  });

  const body = (content: string, extra: Record<string, unknown> = {}) => ({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
    ...extra,
  });

  it('answers a miss with X-Cache: MISS and the next identical request from Redis with HIT, Cache-Status and Age', async () => {
    const miss = await request(app.getHttpServer())
      .post('/v1/chat/completions')
      .send(body('http hello'))
      .expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['cache-status']).toBe('llm-cache; fwd=miss; stored');
    const hit = await request(app.getHttpServer())
      .post('/v1/chat/completions')
      .send(body('http hello'))
      .expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['cache-status']).toMatch(/^llm-cache; hit; ttl=(119|120)$/);
    expect(hit.headers.age).toBe('0');
    expect(hit.body).toEqual(miss.body);
    expect(upstream.callCount).toBe(1);
  });

  it('applies a class-level @CacheLlmResponse to every route, with method options overriding the class TTL', async () => {
    const post = (path: string) =>
      request(app.getHttpServer())
        .post(`/class-level/${path}`)
        .send(body(`class ${path}`));
    expect((await post('inherits').expect(200)).headers['x-cache']).toBe('MISS');
    const inherited = await post('inherits').expect(200);
    expect(inherited.headers['x-cache']).toBe('HIT');
    expect(inherited.headers['cache-status']).toMatch(/^llm-cache; hit; ttl=(29|30)$/);
    expect((await post('overrides').expect(200)).headers['x-cache']).toBe('MISS');
    const overridden = await post('overrides').expect(200);
    expect(overridden.headers['cache-status']).toMatch(/^llm-cache; hit; ttl=(89|90)$/);
    expect(upstream.callCount).toBe(2);
  });

  it('honours Cache-Control and the body cache field, which never reaches the upstream', async () => {
    const bypass = await request(app.getHttpServer())
      .post('/v1/chat/completions')
      .set('Cache-Control', 'no-store')
      .send(body('controls'))
      .expect(200);
    expect(bypass.headers['x-cache']).toBe('BYPASS');
    expect(bypass.headers['cache-status']).toBe('llm-cache; fwd=bypass');
    await request(app.getHttpServer()).post('/v1/chat/completions').send(body('controls')).expect(200);
    const refresh = await request(app.getHttpServer())
      .post('/v1/chat/completions')
      .send(body('controls', { cache: { 'no-cache': true } }))
      .expect(200);
    expect(refresh.headers['cache-status']).toBe('llm-cache; fwd=request; stored');
    expect(upstream.calls.every((c) => !('cache' in c.body))).toBe(true);
    expect(upstream.callCount).toBe(3);
  });

  it('answers a bad directive with 400 naming it, and only-if-cached on a miss with 504', async () => {
    const bad = await request(app.getHttpServer())
      .post('/v1/chat/completions')
      .set('Cache-Control', 'max-age=soon')
      .send(body('bad'))
      .expect(400);
    expect(bad.body.error.param).toBe('max-age');
    await request(app.getHttpServer())
      .post('/v1/chat/completions')
      .send(body('cold', { cache: { 'only-if-cached': true } }))
      .expect(504);
    const invalid = await request(app.getHttpServer())
      .post('/v1/chat/completions')
      .send({ model: 'm' })
      .expect(400);
    expect(invalid.body.error.param).toBe('messages');
    expect(upstream.callCount).toBe(0);
  });

  it('keeps tenants apart by the server-side identity', async () => {
    const post = (key: string) =>
      request(app.getHttpServer())
        .post('/v1/chat/completions')
        .set('Authorization', `Bearer ${key}`)
        .send(body('secret plan'));
    expect((await post('key-alice')).headers['x-cache']).toBe('MISS');
    expect((await post('key-bob')).headers['x-cache']).toBe('MISS');
    expect((await post('key-alice')).headers['x-cache']).toBe('HIT');
    expect(upstream.callCount).toBe(2);
  });

  it('writes streams as SSE and replays a hit that the openai SDK’s strict .stream() helper accepts', async () => {
    const client = new OpenAI({ apiKey: 'key-alice', baseURL, maxRetries: 0 });
    const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'sdk stream' }] };
    const live = await client.chat.completions.stream(params).finalChatCompletion();
    const replay = await client.chat.completions.stream(params).finalChatCompletion();
    expect(replay.choices[0].message.content).toBe(live.choices[0].message.content);
    expect(replay.choices[0].finish_reason).toBe('stop');
    expect(upstream.callCount).toBe(1);

    const tools = [
      { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } },
    ];
    const toolParams = {
      model: 'gpt-4o-mini',
      tools,
      messages: [{ role: 'user' as const, content: 'weather __tool__' }],
    };
    await client.chat.completions.stream(toolParams).finalChatCompletion();
    const toolReplay = await client.chat.completions.stream(toolParams).finalChatCompletion();
    expect(toolReplay.choices[0].message.tool_calls?.[0]).toMatchObject({
      function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
    });
    expect(upstream.callCount).toBe(2);

    // A stream served from a plain (non-stream) entry passes the helper too.
    const plainParams = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'plain first' }],
    };
    const plain = await client.chat.completions.create(plainParams);
    const synthesized = await client.chat.completions.stream(plainParams).finalChatCompletion();
    expect(synthesized.choices[0].message.content).toBe(plain.choices[0].message.content);
    expect(upstream.callCount).toBe(3);
  });

  it('sends SSE framing with cache headers, and an error event after the first byte', async () => {
    const res = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body('raw sse', { stream: true })),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-cache')).toBe('MISS');
    const textBody = await res.text();
    const events = textBody.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.slice(0, -1).every((e) => e.startsWith('data: {'))).toBe(true);

    const broken = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body('x __stream_error__', { stream: true })),
    });
    const brokenEvents = (await broken.text()).split('\n\n').filter(Boolean);
    expect(JSON.parse(brokenEvents.at(-1)!.slice(6))).toMatchObject({ error: { type: expect.any(String) } });
    expect(brokenEvents).not.toContain('data: [DONE]');

    const early = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body('x __status_429__', { stream: true })),
    });
    expect(early.status).toBe(429);
  });

  it('stops a slow upstream call when the client disconnects before the first byte', async () => {
    const controller = new AbortController();
    const pending = fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body('gone before the answer __slow_700__')),
      signal: controller.signal,
    }).catch((err: unknown) => err);
    // Leave once the upstream call is under way (it answers after 700 ms).
    for (let i = 0; i < 100 && upstream.callCount === 0; i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await pending;
    await new Promise((r) => setTimeout(r, 900));
    expect(upstream.calls.map((c) => c.cutOff)).toEqual([true]);
    expect(await llm.clearLlmCache()).toBe(0);
  });

  it('stops the upstream call and stores nothing when the client disconnects mid-stream', async () => {
    upstream.chunkDelayMs = 30;
    try {
      const controller = new AbortController();
      const res = await fetch(`${baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          body('leaving early with a long enough answer to take a while', { stream: true }),
        ),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await sleep(800);
      expect(await llm.clearLlmCache()).toBe(0);
      // The disconnect reached the upstream call: it was cut off rather than read to the end.
      expect(upstream.calls.map((c) => c.cutOff)).toEqual([true]);
    } finally {
      upstream.chunkDelayMs = 2;
    }
  });
});
