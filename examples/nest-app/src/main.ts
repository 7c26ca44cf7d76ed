import 'reflect-metadata';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { HttpStatusErrorFilter } from '@llm-cache/redis-cache';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';

// PLATFORM=fastify runs the same app on Fastify; Express otherwise.
const app =
  process.env.PLATFORM === 'fastify'
    ? await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter())
    : await NestFactory.create(AppModule);
// The packages' errors (bad input, upstream failures) answer with their status and OpenAI's error body.
app.useGlobalFilters(new HttpStatusErrorFilter(app.get(HttpAdapterHost)));
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
console.log(`listening on ${await app.getUrl()} (${process.env.PLATFORM ?? 'express'})`);
