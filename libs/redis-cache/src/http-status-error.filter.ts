import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { HttpStatusError } from './http-status.error.js';

/**
 * Answers an `HttpStatusError` (any error of these packages: bad input, a cache directive, an upstream failure)
 * with its status and `{ error: { message, type, param, code } }`, on Express and Fastify alike (through the HTTP
 * adapter). Without it Nest would answer such an error 500, since it is not an `HttpException`. Register it with
 * `app.useGlobalFilters(new HttpStatusErrorFilter(app.get(HttpAdapterHost)))` or `{ provide: APP_FILTER, useClass:
 * HttpStatusErrorFilter }`; an app with its own catch-all filter renders `err.toJSON()` there instead.
 */
@Catch(HttpStatusError)
export class HttpStatusErrorFilter implements ExceptionFilter<HttpStatusError> {
  constructor(protected readonly adapterHost: HttpAdapterHost) {}

  catch(error: HttpStatusError, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost;
    const response: unknown = host.switchToHttp().getResponse();
    // A stream already started: its status line is gone; ending it is all that is left.
    if (httpAdapter.isHeadersSent(response)) {
      httpAdapter.end(response);
      return;
    }
    httpAdapter.reply(response, error.toJSON(), error.status);
  }
}
