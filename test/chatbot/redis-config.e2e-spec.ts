import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisCluster, RedisServer } from '../harness/redis-server.js';
import { call, startChatbot, upstreamEnv, type TestChatbot } from './chatbot-test-app.js';

/** The Redis variables of DESIGN.md reach a real server: password auth and a 3-master cluster. */
describe('Redis configuration from the environment', () => {
  let fake: FakeOpenAiServer;
  beforeAll(async () => {
    fake = await new FakeOpenAiServer().start();
  });
  afterAll(async () => {
    await fake?.stop();
  });

  async function expectCachedChat(bot: TestChatbot) {
    const ready = await call(`${bot.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.info.redis.degraded).toBeUndefined();
    const message = `config check ${Math.random()}`;
    expect((await call(`${bot.url}/chat`, { body: { message } })).body.cached).toBe(false);
    expect((await call(`${bot.url}/chat`, { body: { message } })).body.cached).toBe(true);
  }

  /**
   * A continued turn reads its conversation and its entry together (on a cluster: one GET per key, the keys live in
   * different slots) and the history write is sent without the cluster client's auto-pipelining: turns stay in order
   * and a follow-up identical to another conversation's is a hit.
   */
  async function expectContinuedConversation(bot: TestChatbot) {
    const opening = { message: `cluster conversation ${Math.random()}` };
    const turn = async (body: Record<string, unknown>) => {
      const res = await call(`${bot.url}/chat`, { body });
      expect(res.status).toBe(200);
      return res.body as { conversationId: string; cached: boolean; reply: string };
    };
    const a = await turn(opening);
    const a2 = await turn({ message: 'and the price?', conversationId: a.conversationId });
    const a3 = await turn({ message: 'and the colour?', conversationId: a.conversationId });
    expect([a2.cached, a3.cached]).toEqual([false, false]);
    const b = await turn(opening);
    const b2 = await turn({ message: 'and the price?', conversationId: b.conversationId });
    const b3 = await turn({ message: 'and the colour?', conversationId: b.conversationId });
    expect([b.cached, b2.cached, b3.cached]).toEqual([true, true, true]);
    expect([b2.reply, b3.reply]).toEqual([a2.reply, a3.reply]);
  }

  it('authenticates with REDIS_PASSWORD against a password-protected server', async () => {
    const redis = await RedisServer.start({ args: ['--requirepass', 's3cret-pass'] });
    let bot: TestChatbot | undefined;
    try {
      bot = await startChatbot(upstreamEnv(redis.url, fake.baseURL, { REDIS_PASSWORD: 's3cret-pass' }));
      await expectCachedChat(bot);
    } finally {
      await bot?.close();
      await redis.stop();
    }
  });

  it('uses a Redis Cluster from REDIS_CLUSTER_NODES', async () => {
    const cluster = await RedisCluster.start();
    let bot: TestChatbot | undefined;
    try {
      const nodes = cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(',');
      bot = await startChatbot(upstreamEnv(undefined, fake.baseURL, { REDIS_CLUSTER_NODES: nodes }));
      const info = await call(`${bot.url}/health/ready`);
      expect(info.body.info.redis.mode).toBe('cluster');
      await expectCachedChat(bot);
      await expectContinuedConversation(bot);
    } finally {
      await bot?.close();
      await cluster.stop();
    }
  }, 60_000);
});
