/**
 * `/chat` and Redis round trips: a turn is answered without waiting for Redis to acknowledge its history write, yet
 * the write is in Redis before the reply arrives, and rapid consecutive turns keep their order; a continued turn
 * reads its conversation and its cached answer in one round trip (one MGET), falling back to the stored history when
 * another replica changed it, and 404 when it is gone. Real chatbot over HTTP, real Redis behind a RESP-aware proxy
 * (test/harness/resp-proxy.ts) that records commands and can hold back Redis' replies while commands go through.
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
    const res = await Promise.race([chat({ message }), sleep(HOLD_MS, null, { ref: false })]);
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

  describe('a continued turn', () => {
    /** The commands on conversation and answer keys since `from` (stats and other bookkeeping left out). */
    const turnCommands = (from: number) =>
      proxy.commands
        .slice(from)
        .filter((c) => c.args.slice(1).some((a) => a.includes(':conv:') || a.includes(':llm:')))
        .map((c) => [c.args[0], ...c.args.slice(1).map((a) => a.replace(/^llm-cache:(conv|llm):.*$/, '$1'))]);

    it('reads its conversation and looks up its answer in one round trip (one MGET)', async () => {
      // Two conversations opened with the same message: the second's follow-up is the first's, so a hit.
      const a = await chat({ message: 'Is the linen apron machine-washable?' });
      await chat({ message: 'At what temperature?', conversationId: a.body.conversationId });
      const b = await chat({ message: 'Is the linen apron machine-washable?' });
      expect(b.body.cached).toBe(true);
      await sleep(20); // b's history write answered (the next turn would wait for it anyway)
      const from = proxy.commands.length;
      const res = await chat({ message: 'At what temperature?', conversationId: b.body.conversationId });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ cached: true, conversationId: b.body.conversationId });
      expect(res.headers.get('x-cache')).toBe('HIT');
      expect(turnCommands(from)).toEqual([
        ['MGET', 'conv', 'llm'],
        ['SET', 'conv', expect.any(String), 'PX', expect.any(String)],
      ]);
      expect(fake.callCount).toBe(2);
    });

    it('goes the ordinary way with the stored history when another replica added a turn meanwhile', async () => {
      const first = await chat({ message: 'Tell me about the oak stool.' });
      const conversationId = first.body.conversationId as string;
      await sleep(20);
      // Another replica's turn: a newer revision of the record, written straight to Redis.
      const theirs = [
        { role: 'user', content: 'Tell me about the oak stool.' },
        { role: 'assistant', content: first.body.reply },
        { role: 'user', content: 'from the other replica' },
        { role: 'assistant', content: 'their answer' },
      ];
      await direct.set(
        `llm-cache:conv:acme:${conversationId}`,
        JSON.stringify({ messages: theirs, updatedAtMs: Date.now(), rev: 'written-elsewhere' }),
        'PX',
        60_000,
      );
      const from = proxy.commands.length;
      const res = await chat({ message: 'How tall is it?', conversationId });
      expect(res.status).toBe(200);
      const sent = fake.calls.at(-1)!.body.messages as Array<{ role: string; content: string }>;
      expect(sent.slice(1)).toEqual([...theirs, { role: 'user', content: 'How tall is it?' }]);
      // The prefetched lookup was for the stale history: the real key is looked up on its own.
      const commands = turnCommands(from).map((c) => c[0]);
      expect(commands.slice(0, 2)).toEqual(['MGET', 'GET']);
      // The history write; the miss's store + unlock script is sent off the answer's path, before or after it.
      expect(commands.filter((c) => c === 'SET')).toHaveLength(1);
    });

    it('is 404 when the conversation expired in Redis, although this process remembers it', async () => {
      const first = await chat({ message: 'Is the cork board still sold?' });
      const conversationId = first.body.conversationId as string;
      await sleep(20);
      await direct.del(`llm-cache:conv:acme:${conversationId}`);
      const res = await chat({ message: 'And the pins?', conversationId });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('conversation_not_found');
      expect(fake.callCount).toBe(1);
    });
  });
});
