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
    } finally {
      await bot?.close();
      await cluster.stop();
    }
  }, 60_000);
});
