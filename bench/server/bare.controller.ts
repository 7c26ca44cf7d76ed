import { Body, Controller, HttpCode, Post, Put } from '@nestjs/common';

/**
 * The ceiling for our code: same app, same adapter, same route shape, a body of the same size — and no cache lookup
 * at all. The orchestrator installs the exact bodies our endpoints return (PUT), so sizes match byte for byte.
 */
@Controller('bench/bare')
export class BareController {
  private completion: unknown = {};
  private chat: unknown = {};

  @Put('template')
  @HttpCode(204)
  setTemplate(@Body() body: { completion?: unknown; chat?: unknown }): void {
    if (body.completion) this.completion = body.completion;
    if (body.chat) this.chat = body.chat;
  }

  @Post('v1/chat/completions')
  @HttpCode(200)
  completions(): unknown {
    return this.completion;
  }

  @Post('chat')
  @HttpCode(200)
  chatTurn(): unknown {
    return this.chat;
  }
}
