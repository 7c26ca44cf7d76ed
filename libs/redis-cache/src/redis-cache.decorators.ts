import { Inject } from '@nestjs/common';
import { REDIS_CACHE_CLIENT } from './redis-cache.constants.js';

/** Injects the module's ioredis client (`Redis | Cluster`, or null in memory mode). */
export const InjectRedisClient = (): ParameterDecorator => Inject(REDIS_CACHE_CLIENT);

export const getRedisClientToken = (): symbol => REDIS_CACHE_CLIENT;
