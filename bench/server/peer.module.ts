import { createHash, randomUUID } from 'node:crypto';
import {
  Body,
  Controller,
  HttpCode,
  Injectable,
  Module,
  Post,
  UseInterceptors,
  type DynamicModule,
  type ExecutionContext,
} from '@nestjs/common';
import { CacheInterceptor, CacheModule, CacheTTL } from '@nestjs/cache-manager';
import { createKeyv } from '@keyv/redis';
import { InjectLlmProvider, type ChatCompletionRequest, type LlmProvider } from '@llm-cache/llm';

/**
 * What a Nest developer reaches for today: `@nestjs/cache-manager`'s CacheInterceptor on a Keyv Redis store
 * (@keyv/redis), opened up for POST and keyed by a hash of the body — no coalescing, no tenant, no stream support.
 */
@Injectable()
class PostBodyCacheInterceptor extends CacheInterceptor {
  protected override allowedMethods = ['POST'];

  protected override trackBy(context: ExecutionContext): string | undefined {
    const req = context.switchToHttp().getRequest<{ url: string; body: unknown }>();
    return `peer:${req.url}:${createHash('sha256').update(JSON.stringify(req.body)).digest('hex')}`;
  }
}

@Controller('bench/peer')
@UseInterceptors(PostBodyCacheInterceptor)
class PeerController {
  constructor(@InjectLlmProvider() private readonly provider: LlmProvider) {}

  @Post('v1/chat/completions')
  @HttpCode(200)
  @CacheTTL(3_600_000)
  completions(@Body() body: ChatCompletionRequest): Promise<unknown> {
    return this.provider.complete({ ...body, stream: false });
  }

  @Post('chat')
  @HttpCode(200)
  @CacheTTL(3_600_000)
  async chat(@Body() body: { message: string; model?: string }): Promise<unknown> {
    const completion = await this.provider.complete({
      model: body.model ?? 'fake-model',
      messages: [{ role: 'user', content: body.message }],
    });
    return {
      reply: completion.choices[0]?.message?.content ?? '',
      conversationId: randomUUID(),
      cached: false,
      usage: completion.usage,
    };
  }
}

@Module({})
export class PeerModule {
  static register(redisUrl: string): DynamicModule {
    return {
      module: PeerModule,
      imports: [CacheModule.register({ stores: [createKeyv(redisUrl, { namespace: 'peer' })] })],
      controllers: [PeerController],
      providers: [PostBodyCacheInterceptor],
    };
  }
}
