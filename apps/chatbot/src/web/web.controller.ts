import { Controller, Get, Header, NotFoundException, Param, StreamableFile } from '@nestjs/common';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import { WebAssets } from './web-assets.js';
import { WEB_PAGE_CSP } from './web-page.headers.js';

/** What the page needs to know before its first call: whether to ask for an API key, and which model to name. */
export interface WebPageConfig {
  /** `bearer` → the page asks for a key and sends it as `Authorization: Bearer`; `none` → open dev mode. */
  auth: 'bearer' | 'none';
  model: string;
  provider: 'openai' | 'mock';
}

/**
 * The chat page at `/` and its files at `/assets/<name>`. Not behind the API-key guard (the page itself is public;
 * every call it makes is authenticated). Served through `StreamableFile` and `@Header`, which Nest maps on both
 * the Express and the Fastify adapter, so the page needs neither adapter's static-file middleware.
 */
@Controller()
export class WebController {
  constructor(
    private readonly assets: WebAssets,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  @Get()
  @Header('Content-Security-Policy', WEB_PAGE_CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Referrer-Policy', 'no-referrer')
  @Header('Cache-Control', 'no-cache')
  page(): StreamableFile {
    return this.file('index.html');
  }

  @Get('assets/:name')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  asset(@Param('name') name: string): StreamableFile {
    return this.file(name);
  }

  @Get('web/config')
  @Header('Cache-Control', 'no-store')
  pageConfig(): WebPageConfig {
    return {
      auth: this.config.apiKeys === null ? 'none' : 'bearer',
      model: this.config.llm.model,
      provider: this.config.llm.provider,
    };
  }

  private file(name: string): StreamableFile {
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException(`No such file: ${name}`);
    return new StreamableFile(asset.body, { type: asset.contentType, length: asset.body.length });
  }
}
