import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { call, startChatbot, upstreamEnv, type TestChatbot } from '../chatbot/chatbot-test-app.js';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { RedisServer } from '../harness/redis-server.js';
import { launchChromium, UPDATE_SCREENSHOT } from './browser.js';

// Used only inside page.evaluate/waitForFunction callbacks, which run in the browser; the project's lib has no DOM.
declare const document: any;
declare const window: any;
declare const getComputedStyle: any;
declare class MutationObserver {
  constructor(callback: () => void);
  observe(target: unknown, options: Record<string, boolean>): void;
}

const ACME = 'key-acme-0001';
const GLOBEX = 'key-globex-0001';
const SCREENSHOT_DIR = new URL('../../docs/', import.meta.url);

/**
 * The chat page at `/`, in headless Chromium, against the real app (Express), real Redis and the fake OpenAI-compatible
 * upstream, which counts its calls.
 */
describe('chat page in a real browser', () => {
  jest.setTimeout(60_000);
  let redis: RedisServer;
  let fake: FakeOpenAiServer;
  let bot: TestChatbot;
  let openBot: TestChatbot;
  let browser: Browser;
  let context: BrowserContext | undefined;
  /** Console errors and uncaught exceptions (a CSP violation shows up here). */
  let pageErrors: string[] = [];

  beforeAll(async () => {
    [redis, fake, browser] = await Promise.all([
      RedisServer.start(),
      new FakeOpenAiServer({ latencyMs: 40, chunkDelayMs: 15 }).start(),
      launchChromium(),
    ]);
    // gpt-4o-mini is in the price table, so the page has dollars to show; the fake upstream echoes any model.
    // A generous Redis bound: these specs are about the page, and on a loaded machine a counter flush that times out
    // is dropped by design (fail-open), which would make the figures the page shows lag behind.
    const env = upstreamEnv(redis.url, fake.baseURL, {
      LLM_MODEL: 'gpt-4o-mini',
      REDIS_COMMAND_TIMEOUT_MS: '2000',
    });
    bot = await startChatbot({
      ...env,
      CACHE_PREFIX: 'web-keys',
      CHATBOT_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
    });
    openBot = await startChatbot({ ...env, CACHE_PREFIX: 'web-open' });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await bot?.close();
    await openBot?.close();
    await fake?.stop();
    await redis?.stop();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
    expect(pageErrors).toEqual([]);
    pageErrors = [];
  });

  async function openPage(
    url: string,
    options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {},
  ): Promise<Page> {
    context = await browser.newContext({
      colorScheme: options.colorScheme ?? 'light',
      viewport: options.viewport ?? { width: 1120, height: 760 },
      deviceScaleFactor: 1,
    });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    page.on('console', (msg) => {
      // The page's own error answers (401, 429, …) are logged by Chromium as failed resources; they are expected.
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) pageErrors.push(msg.text());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(url);
    await page.waitForFunction(() => !/Connecting/.test(document.getElementById('model-line')!.textContent!));
    return page;
  }

  async function saveKey(page: Page, key: string): Promise<void> {
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Save key' }).click();
  }

  /** Types a question, sends it with Enter and waits until the answer (or an error) is complete. */
  async function ask(page: Page, question: string): Promise<void> {
    const before = await page.locator('.message.assistant .badge').count();
    await page.getByLabel('Your message').fill(question);
    await page.getByLabel('Your message').press('Enter');
    await page.waitForFunction(
      (n) =>
        document.querySelectorAll('.message.assistant .badge').length > n ||
        !document.getElementById('error')!.hidden,
      before,
    );
  }

  const lastAnswer = (page: Page) => page.locator('.message.assistant').last();
  const answerText = (page: Page) => lastAnswer(page).locator('.bubble').textContent();
  const badge = (page: Page) => lastAnswer(page).locator('.badge').textContent();
  const stat = (page: Page, id: string) => page.locator(`#stat-${id}`).textContent();
  const waitForStat = (page: Page, id: string, value: string) =>
    page.waitForFunction(([i, v]) => document.getElementById(`stat-${i}`)!.textContent === v, [id, value]);

  it('streams an answer with a MISS badge, then serves the same question in a new conversation from the cache (HIT)', async () => {
    fake.reset();
    const page = await openPage(bot.url);
    expect(await page.getByLabel('API key').isVisible()).toBe(true);
    await saveKey(page, ACME);

    // Every text the answer bubble shows while it streams: more than one means it arrived in pieces.
    await page.evaluate(() => {
      const seen: number[] = [];
      (window as any).__answerLengths = seen;
      new MutationObserver(() => {
        const bubble = document.querySelector('.message.assistant.streaming .bubble');
        if (bubble?.textContent) seen.push(bubble.textContent.length);
      }).observe(document.getElementById('transcript')!, {
        subtree: true,
        childList: true,
        characterData: true,
      });
    });
    await ask(page, 'Is the blue kettle dishwasher-safe?');
    expect(await badge(page)).toBe('MISS');
    const first = await answerText(page);
    expect(first).toContain('blue kettle');
    expect(
      new Set(await page.evaluate(() => (window as any).__answerLengths as number[])).size,
    ).toBeGreaterThan(2);
    expect(await lastAnswer(page).locator('.ttft').textContent()).toMatch(/^first token \d/);
    expect(await lastAnswer(page).locator('.total').textContent()).toMatch(/^total \d/);
    expect(await lastAnswer(page).locator('.tokens').textContent()).toMatch(/^\d+ tokens$/);
    expect(await lastAnswer(page).locator('.age').count()).toBe(0);
    expect(fake.callCount).toBe(1);
    expect(fake.calls[0]!.stream).toBe(true);
    await waitForStat(page, 'misses', '1');

    await page.getByRole('button', { name: 'New conversation' }).click();
    expect(await page.locator('.message').count()).toBe(0);
    await ask(page, 'Is the blue kettle dishwasher-safe?');
    expect(await badge(page)).toBe('HIT');
    expect(await answerText(page)).toBe(first);
    expect(await lastAnswer(page).locator('.age').textContent()).toMatch(/^age \d+ s$/);
    expect(fake.callCount).toBe(1);
    await waitForStat(page, 'hits', '1');
    expect(await stat(page, 'ratio')).toBe('50%');
    expect(await stat(page, 'tokens')).not.toBe('0');
    expect(await stat(page, 'dollars')).toMatch(/^\$0\.0*[1-9]\d*$/);

    // The conversation continues: the follow-up carries the earlier turn to the model.
    await ask(page, 'And the lid?');
    expect(await badge(page)).toBe('MISS');
    expect(fake.callCount).toBe(2);
    expect(fake.calls[1]!.body.messages.map((m: { role: string }) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
    ]);
    expect(fake.calls[1]!.body.messages[1].content).toBe(first);
    await waitForStat(page, 'misses', '2');

    if (UPDATE_SCREENSHOT) {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: new URL('screenshot-chat.png', SCREENSHOT_DIR).pathname });
    }

    // "Refresh" re-asks with Cache-Control: no-cache: the model is called again.
    const refreshed = page.locator('.message.assistant').first();
    await refreshed.getByRole('button', { name: /Ask this again/ }).click();
    await refreshed.locator('.meta', { hasText: 'refreshed' }).waitFor();
    expect(await refreshed.locator('.badge').textContent()).toBe('MISS');
    expect(await refreshed.locator('.bubble').textContent()).toBe(first);
    expect(fake.callCount).toBe(3);
    expect(fake.calls[2]!.body.messages).toHaveLength(1);
  });

  it('shows a refused API key in plain words and keeps the question in the box', async () => {
    fake.reset();
    const page = await openPage(bot.url);
    await saveKey(page, 'key-wrong-0001');
    await ask(page, 'Does the kettle switch itself off?');
    expect(await page.getByRole('alert').textContent()).toContain('The API key was not accepted');
    expect(await page.getByLabel('Your message').inputValue()).toBe('Does the kettle switch itself off?');
    expect(await page.locator('.message').count()).toBe(0);
    expect(await page.locator('#stats-note').textContent()).toContain('not accepted');
    expect(fake.callCount).toBe(0);

    // With the right key the same question goes through.
    await saveKey(page, ACME);
    expect(await page.getByRole('alert').isHidden()).toBe(true);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.message.assistant .badge').waitFor();
    expect(await page.getByLabel('Your message').inputValue()).toBe('');
  });

  it('shows a tenant only its own figures', async () => {
    const acme = await call(`${bot.url}/chat/stats`, { headers: { authorization: `Bearer ${ACME}` } });
    const globex = await call(`${bot.url}/chat/stats`, { headers: { authorization: `Bearer ${GLOBEX}` } });
    const anonymous = await call(`${bot.url}/chat/stats`);
    expect(acme.status).toBe(200);
    expect(acme.body).toMatchObject({ tenant: 'acme', hits: 1 });
    expect(acme.body.misses).toBeGreaterThanOrEqual(3);
    expect(globex.body).toMatchObject({
      tenant: 'globex',
      hits: 0,
      misses: 0,
      tokensSaved: 0,
      costSavedUsd: 0,
    });
    expect(anonymous.status).toBe(401);

    const page = await openPage(bot.url);
    await saveKey(page, GLOBEX);
    await waitForStat(page, 'misses', '0');
    expect(await stat(page, 'hits')).toBe('0');
    expect(await page.locator('#stats-note').textContent()).toContain('globex');
  });

  it('explains 429 and 502 answers and keeps the input', async () => {
    const page = await openPage(openBot.url);
    await ask(page, '__status_429__ please');
    expect(await page.getByRole('alert').textContent()).toContain('Too many requests');
    expect(await page.getByLabel('Your message').inputValue()).toBe('__status_429__ please');

    await ask(page, '__status_500__ please');
    expect(await page.getByRole('alert').textContent()).toContain('model provider failed to answer (502)');
    expect(await page.getByLabel('Your message').inputValue()).toBe('__status_500__ please');
    expect(await page.locator('.message').count()).toBe(0);
  });

  it('says so when the answer breaks off mid-stream, upstream or on the network, and keeps the input', async () => {
    const page = await openPage(openBot.url);
    await ask(page, 'tell me about __stream_cut__');
    expect(await page.getByRole('alert').textContent()).toContain(
      'The model stopped in the middle of the answer',
    );
    expect(await page.getByLabel('Your message').inputValue()).toBe('tell me about __stream_cut__');

    // The connection between the browser and the app drops while the answer streams.
    fake.chunkDelayMs = 250;
    try {
      await page.getByLabel('Your message').fill('A long answer about teapots');
      await page.getByLabel('Your message').press('Enter');
      await page.waitForFunction(
        () => (document.querySelector('.message.assistant.streaming .bubble')?.textContent ?? '').length > 0,
      );
      openBot.app.getHttpServer().closeAllConnections();
      await page.getByRole('alert').waitFor();
    } finally {
      fake.chunkDelayMs = 15;
    }
    expect(await page.getByRole('alert').textContent()).toContain('The connection was lost');
    expect(await page.getByLabel('Your message').inputValue()).toBe('A long answer about teapots');
    expect(await page.locator('.message').count()).toBe(0);
  });

  it('hides the key field in open dev mode and stays usable at phone width in dark mode', async () => {
    const page = await openPage(openBot.url, { colorScheme: 'dark', viewport: { width: 390, height: 760 } });
    expect(await page.getByLabel('API key').isHidden()).toBe(true);
    await ask(page, 'What colours does the kettle come in?');
    expect(await badge(page)).toBe('MISS');
    await page.getByRole('button', { name: 'New conversation' }).click();
    await ask(page, 'What colours does the kettle come in?');
    expect(await badge(page)).toBe('HIT');
    await waitForStat(page, 'hits', '1');
    // Keyboard: after an answer the focus is back in the message box; every control has a name.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('question');
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('button, input, textarea')]
        .filter((e: any) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim()))
        .map((e: any) => e.outerHTML),
    );
    expect(unnamed).toEqual([]);
    // Nothing wider than the screen: no sideways scrolling on a phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(15, 18, 22)');
    if (UPDATE_SCREENSHOT) {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: new URL('screenshot-chat-phone-dark.png', SCREENSHOT_DIR).pathname });
    }
  });

  it('shows COALESCED on an answer that joined an identical request already in flight', async () => {
    fake.reset();
    const first = await openPage(openBot.url);
    const second = await context!.newPage();
    await second.goto(openBot.url);
    await second.waitForFunction(
      () => !/Connecting/.test(document.getElementById('model-line')!.textContent!),
    );
    const question = 'Two tabs ask at once __slow_600__';
    await first.getByLabel('Your message').fill(question);
    await second.getByLabel('Your message').fill(question);
    await Promise.all([
      first.getByLabel('Your message').press('Enter'),
      second.getByLabel('Your message').press('Enter'),
    ]);
    await Promise.all([first, second].map((p) => p.locator('.message.assistant .badge').waitFor()));
    expect([await badge(first), await badge(second)].sort()).toEqual(['COALESCED', 'MISS']);
    expect(await answerText(first)).toBe(await answerText(second));
    expect(fake.callCount).toBe(1);
  });

  it('serves the page with a strict Content-Security-Policy and no inline script', async () => {
    const res = await fetch(`${openBot.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
    expect((await fetch(`${openBot.url}/assets/app.js`)).headers.get('content-type')).toBe(
      'text/javascript; charset=utf-8',
    );
    expect((await fetch(`${openBot.url}/assets/..%2Fweb.controller.ts`)).status).toBe(404);
    expect(await (await fetch(`${openBot.url}/web/config`)).json()).toEqual({
      auth: 'none',
      model: 'gpt-4o-mini',
      provider: 'openai',
    });
    expect(await (await fetch(`${bot.url}/web/config`)).json()).toMatchObject({ auth: 'bearer' });
  });
});
