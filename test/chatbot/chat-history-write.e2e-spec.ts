/**
 * `/chat` answers a turn without waiting for Redis to acknowledge the history write, yet the write is in Redis
 * before the reply arrives, and rapid consecutive turns keep their order. Real chatbot over HTTP, real Redis behind a
 * RESP-aware proxy (test/harness/resp-proxy.ts) that can hold back Redis' replies while commands go through.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { RespProxy } from '../harness/resp-proxy.js';
import { call, sleep, startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

const KEY = 'key-acme-0001';
const HOLD_MS = 1500;

describe('POST /chat history writes', () => {
  let redis: RedisServer;
  let proxy: RespProxy;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  let direct: Redis;
  const chat = (body: unknown) =>
    call(`${bot.url}/chat`, { body, headers: { authorization: `Bearer ${KEY}` } });
  const isConvWrite = (c: { args: string[] }) => c.args[0] === 'SET' && c.args[1].includes(':conv:');
  const stored = async (conversationId: string) => {
    const raw = await direct.get(`llm-cache:conv:acme:${conversationId}`);
    return raw ? (JSON.parse(raw).messages as Array<{ role: string; content: string }>) : null;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = await RespProxy.start(redis.port);
    fake = await new FakeOpenAiServer().start();
    direct = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
    bot = await startChatbot(
      upstreamEnv(proxy.url, fake.baseURL, {
        CHATBOT_API_KEYS: `acme:${KEY}`,
        // Held replies must not count as timeouts here: this spec is about ordering, not about a hung Redis.
        REDIS_COMMAND_TIMEOUT_MS: '5000',
        REDIS_ADAPTIVE_TIMEOUT: 'false',
      }),
    );
  });
  afterAll(async () => {
    proxy?.release();
    await bot?.close();
    direct?.disconnect();
    await fake?.stop();
    await proxy?.stop();
    await redis?.stop();
  });
  beforeEach(() => {
    proxy.release();
    fake.reset();
  });

  it("returns the reply while Redis' answer to the history write is held, with the write already in Redis", async () => {
    const message = 'Does the walnut tray fit a dishwasher?';
    expect((await chat({ message })).status).toBe(200); // the answer is cached now: the next turn is a hit
    proxy.holdRepliesFrom(isConvWrite);
    const start = performance.now();
    const res = await Promise.race([chat({ message }), sleep(HOLD_MS).then(() => null)]);
    const tookMs = performance.now() - start;
    expect(res).not.toBeNull(); // with the write awaited, the reply would wait for the held answer
    expect(res!.status).toBe(200);
    expect(res!.body.cached).toBe(true);
    expect(tookMs).toBeLessThan(HOLD_MS);
    // Right after the reply, another client (another replica) already reads the new turn from Redis.
    expect(await stored(res!.body.conversationId)).toEqual([
      { role: 'user', content: message },
      { role: 'assistant', content: res!.body.reply },
    ]);
    proxy.release();
  });

  it('keeps rapid consecutive turns of one conversation in order', async () => {
    // Every turn's reply arrives while Redis' answer to its history write is held; the next turn is sent at once.
    proxy.holdRepliesFrom(isConvWrite);
    const first = await chat({ message: 'turn one about the copper kettle' });
    expect(first.status).toBe(200);
    const conversationId = first.body.conversationId as string;
    const replies: string[] = [first.body.reply];
    for (const message of ['turn two', 'turn three', 'turn four']) {
      const next = chat({ message, conversationId });
      await sleep(50);
      proxy.release();
      proxy.holdRepliesFrom(isConvWrite);
      const res = await next;
      expect(res.status).toBe(200);
      replies.push(res.body.reply);
    }
    proxy.release();
    const sent = fake.calls.at(-1)!.body.messages as Array<{ role: string; content: string }>;
    expect(sent.map((m) => m.content).slice(1)).toEqual([
      'turn one about the copper kettle',
      replies[0],
      'turn two',
      replies[1],
      'turn three',
      replies[2],
      'turn four',
    ]);
    expect((await stored(conversationId))!.map((m) => m.content)).toEqual(
      expect.arrayContaining(['turn four', replies[3]]),
    );
  });
});
