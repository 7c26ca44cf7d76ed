import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { loadChatbotConfig } from '../../apps/chatbot/src/config/chatbot.config.js';
import { CHATBOT_CONFIG } from '../../apps/chatbot/src/config/chatbot-config.constants.js';
import { WebAssets } from '../../apps/chatbot/src/web/web-assets.js';
import { WebController } from '../../apps/chatbot/src/web/web.controller.js';

@Module({
  controllers: [WebController],
  providers: [
    WebAssets,
    { provide: CHATBOT_CONFIG, useValue: loadChatbotConfig({ CHATBOT_API_KEYS: 'acme:key-acme-0001' }) },
  ],
})
class WebOnlyModule {}

/**
 * The page is served through Nest itself (StreamableFile + @Header), not an adapter's static middleware, so it works
 * the same on Express and on Fastify. Each adapter gets a real HTTP port on 127.0.0.1.
 */
describe.each([
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
])('chat page files on %s', (_name, adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    app = await NestFactory.create(WebOnlyModule, adapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves the page with its Content-Security-Policy', async () => {
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toContain('<script type="module" src="/assets/app.js"></script>');
  });

  it('serves the script and the style sheet with their types, and nothing else', async () => {
    const js = await fetch(`${url}/assets/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('/v1/chat/completions');
    const css = await fetch(`${url}/assets/style.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    await css.text();
    for (const path of [
      '/assets/missing.js',
      '/assets/..%2Fweb.controller.ts',
      '/assets/%2e%2e%2fweb-assets.ts',
    ]) {
      const res = await fetch(`${url}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      await res.text();
    }
  });

  it('tells the page which auth mode the server runs in', async () => {
    const res = await fetch(`${url}/web/config`);
    expect(await res.json()).toEqual({ auth: 'bearer', model: 'mock-gpt', provider: 'mock' });
  });
});
