import { Controller, Get } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/**
 * Which HTTP adapter this process really runs on, asked of the adapter instance itself (`getType()`: `express` or
 * `fastify`) rather than of the environment that was meant to choose it. The bench refuses to label numbers with a
 * platform this route does not confirm. Bench-only: the product has no such endpoint.
 */
@Controller('bench/platform')
export class PlatformController {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  @Get()
  platform(): { adapter: string } {
    return { adapter: this.adapterHost.httpAdapter.getType() };
  }
}
