// The chat page: plain browser JavaScript, no build step, no third-party code (the page's CSP allows only this
// origin). It talks to the app's own OpenAI-compatible API: answers stream over SSE from /v1/chat/completions, the
// cache outcome is read from the response headers, and the caller's own figures come from /chat/stats.
// The conversation lives in this tab (the OpenAI API is stateless): each turn sends the whole history, so the same
// question in a new conversation is the same request, and the cache answers it.

const KEY_STORAGE = 'llm-cache.apiKey';

const el = {
  modelLine: byId('model-line'),
  keyForm: /** @type {HTMLFormElement} */ (byId('key-form')),
  keyInput: /** @type {HTMLInputElement} */ (byId('api-key')),
  newConversation: /** @type {HTMLButtonElement} */ (byId('new-conversation')),
  transcript: byId('transcript'),
  emptyHint: byId('empty-hint'),
  error: byId('error'),
  composer: /** @type {HTMLFormElement} */ (byId('composer')),
  question: /** @type {HTMLTextAreaElement} */ (byId('question')),
  send: /** @type {HTMLButtonElement} */ (byId('send')),
  status: byId('status'),
  statsUpdate: /** @type {HTMLButtonElement} */ (byId('stats-update')),
  statsNote: byId('stats-note'),
  template: /** @type {HTMLTemplateElement} */ (byId('message-template')),
};

const state = {
  /** @type {{ auth: 'bearer' | 'none', model: string, provider: string } | null} */
  config: null,
  /** @type {Array<{ role: 'user' | 'assistant', content: string }>} */
  history: [],
  /** Bumped by "New conversation": a refresh of an answer from an earlier conversation leaves the history alone. */
  conversation: 0,
  busy: false,
  /** @type {AbortController | null} */
  inFlight: null,
  apiKey: sessionStorage.getItem(KEY_STORAGE) ?? '',
};

/** What each answer was asked with, for its "refresh" control. */
const answers = new WeakMap();

function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
}

// ---------------------------------------------------------------------------------------------------------------
// Start-up: learn the auth mode and model from the server.

async function init() {
  bindEvents();
  try {
    const res = await fetch('/web/config', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    state.config = await res.json();
  } catch {
    el.modelLine.textContent = 'The chat server cannot be reached. Reload the page when it is back.';
    return;
  }
  const { model, provider, auth } = state.config;
  el.modelLine.textContent =
    provider === 'mock'
      ? `Model ${model} · mock provider: canned answers, no real model is called`
      : `Model ${model}`;
  if (auth === 'bearer') {
    el.keyForm.hidden = false;
    el.keyInput.value = state.apiKey;
    if (!state.apiKey) el.statsNote.textContent = 'Enter your API key to see your figures.';
  }
  (auth === 'bearer' && !state.apiKey ? el.keyInput : el.question).focus();
  void refreshStats();
}

function bindEvents() {
  el.composer.addEventListener('submit', (event) => {
    event.preventDefault();
    void ask(el.question.value.trim());
  });
  el.question.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      el.composer.requestSubmit();
    }
  });
  el.keyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    state.apiKey = el.keyInput.value.trim();
    if (state.apiKey) sessionStorage.setItem(KEY_STORAGE, state.apiKey);
    else sessionStorage.removeItem(KEY_STORAGE);
    hideError();
    announce(state.apiKey ? 'API key saved for this tab.' : 'API key removed.');
    void refreshStats();
    el.question.focus();
  });
  el.newConversation.addEventListener('click', () => {
    state.inFlight?.abort();
    state.history = [];
    state.conversation += 1;
    for (const node of [...el.transcript.children]) if (node !== el.emptyHint) node.remove();
    el.emptyHint.hidden = false;
    hideError();
    announce('New conversation.');
    el.question.focus();
  });
  el.statsUpdate.addEventListener('click', () => void refreshStats());
}

// ---------------------------------------------------------------------------------------------------------------
// A turn: the question and the history so far → a streamed answer with its cache outcome.

/** @param {string} question */
async function ask(question) {
  if (!question || state.busy) return;
  if (state.config?.auth === 'bearer' && !state.apiKey) {
    showError('This server needs an API key: enter it above, then send again.');
    el.keyInput.focus();
    return;
  }
  hideError();
  el.emptyHint.hidden = true;
  const messages = [...state.history, { role: 'user', content: question }];
  const conversation = state.conversation;
  const userNode = addMessage('user', question);
  const answerNode = addMessage('assistant', '');
  el.question.value = '';

  const result = await runAnswer(messages, answerNode, false);
  if (!result.ok) {
    userNode.remove();
    answerNode.remove();
    if (!el.question.value) el.question.value = question;
    el.emptyHint.hidden = el.transcript.children.length > 1;
    if (result.error) showError(result.error);
    el.question.focus();
    return;
  }
  if (conversation === state.conversation) {
    state.history = [...messages, { role: 'assistant', content: result.text }];
    answers.set(answerNode, { messages, conversation, index: state.history.length - 1 });
  }
  el.question.focus();
}

/** Re-asks an answer's request with `Cache-Control: no-cache`: the model is called and the entry replaced. */
async function refreshAnswer(answerNode) {
  const asked = answers.get(answerNode);
  if (!asked || state.busy) return;
  hideError();
  const bubble = answerNode.querySelector('.bubble');
  const meta = answerNode.querySelector('.meta');
  const before = { text: bubble.textContent, meta: [...meta.childNodes] };
  const result = await runAnswer(asked.messages, answerNode, true);
  if (!result.ok) {
    bubble.textContent = before.text;
    meta.replaceChildren(...before.meta);
    if (result.error) showError(result.error);
    return;
  }
  if (asked.conversation === state.conversation && state.history[asked.index]?.role === 'assistant') {
    state.history[asked.index] = { role: 'assistant', content: result.text };
  }
}

/**
 * Streams one answer into `answerNode`. Resolves `{ ok: true, text }`, or `{ ok: false, error }` with the error in
 * plain words (`error` is empty when the user cancelled with "New conversation").
 */
async function runAnswer(messages, answerNode, refresh) {
  const bubble = answerNode.querySelector('.bubble');
  const meta = answerNode.querySelector('.meta');
  bubble.textContent = '';
  meta.replaceChildren();
  answerNode.classList.add('streaming');
  answerNode.setAttribute('aria-busy', 'true');
  setBusy(true);
  const controller = new AbortController();
  state.inFlight = controller;
  const startedMs = performance.now();
  try {
    const headers = { 'content-type': 'application/json', accept: 'text/event-stream' };
    if (state.apiKey && state.config?.auth === 'bearer') headers.authorization = `Bearer ${state.apiKey}`;
    if (refresh) headers['cache-control'] = 'no-cache';
    let res;
    try {
      res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers,
        signal: controller.signal,
        body: JSON.stringify({
          model: state.config?.model,
          messages,
          stream: true,
          stream_options: { include_usage: true },
        }),
      });
    } catch {
      if (controller.signal.aborted) return { ok: false, error: '' };
      return { ok: false, error: 'The chat server cannot be reached. Check your connection and send again.' };
    }
    if (!res.ok) return { ok: false, error: await describeHttpError(res) };

    const cache = cacheOutcome(res.headers);
    let firstTokenMs;
    let usage = null;
    let text = '';
    const outcome = await readEvents(res, (event) => {
      if (event.error) throw new StreamError(event.error.message);
      for (const choice of event.choices ?? []) {
        const piece = choice.delta?.content;
        if (piece) {
          firstTokenMs ??= performance.now() - startedMs;
          text += piece;
          bubble.textContent = text;
          scrollToEnd();
        }
      }
      if (event.usage) usage = event.usage;
    }).catch((err) => (controller.signal.aborted ? 'aborted' : err));

    if (outcome === 'aborted') return { ok: false, error: '' };
    if (outcome instanceof StreamError) {
      return { ok: false, error: `The model stopped in the middle of the answer: ${outcome.message}` };
    }
    if (outcome !== 'done') {
      return {
        ok: false,
        error:
          'The connection was lost before the answer was complete. Your question is back in the box: send it again.',
      };
    }
    const totalMs = performance.now() - startedMs;
    renderMeta(answerNode, { cache, firstTokenMs, totalMs, usage, refresh });
    announce(`Answer complete, ${cache.label === 'HIT' ? 'from the cache' : cache.label.toLowerCase()}.`);
    void refreshStats();
    return { ok: true, text };
  } finally {
    answerNode.classList.remove('streaming');
    answerNode.removeAttribute('aria-busy');
    if (state.inFlight === controller) state.inFlight = null;
    setBusy(false);
  }
}

class StreamError extends Error {}

/**
 * Reads server-sent events, calling `onEvent` with each parsed `data:` payload. Resolves 'done' after `[DONE]`,
 * 'cut' when the body ends without it; rejects when the connection breaks.
 */
async function readEvents(res, onEvent) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'cut';
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (!data) continue;
      if (data === '[DONE]') {
        void reader.cancel().catch(() => undefined);
        return 'done';
      }
      onEvent(JSON.parse(data));
    }
  }
}

/** HIT / MISS / COALESCED / BYPASS from `X-Cache` and RFC 9211 `Cache-Status`, and `Age` in seconds. */
function cacheOutcome(headers) {
  const xCache = (headers.get('x-cache') ?? '').toUpperCase();
  const status = headers.get('cache-status') ?? '';
  const age = headers.get('age');
  let label = xCache || 'UNKNOWN';
  if (/;\s*collapsed/.test(status)) label = 'COALESCED';
  return { label, ageS: age === null ? undefined : Number(age), refreshed: /fwd=request/.test(status) };
}

async function describeHttpError(res) {
  let message = '';
  try {
    message = (await res.json())?.error?.message ?? '';
  } catch {
    /* not JSON */
  }
  switch (res.status) {
    case 401:
      return state.config?.auth === 'bearer'
        ? 'The API key was not accepted. Check the key above, save it, and send again.'
        : `Not authorised: ${message || 'the server refused the request.'}`;
    case 403:
      return 'This key may not use the chat.';
    case 413:
      return 'The message is too long for this server. Shorten it and send again.';
    case 429: {
      const retry = res.headers.get('retry-after');
      return `Too many requests right now. Wait ${retry ? `${retry} s` : 'a moment'} and send again.`;
    }
    case 502:
      return 'The model provider failed to answer (502). Nothing was cached; send again in a moment.';
    case 503:
      return 'The service is not available right now (503). Send again in a moment.';
    case 504:
      return 'The model took too long to answer (504). Send again, or ask something shorter.';
    default:
      if (res.status >= 400 && res.status < 500)
        return `The request was refused (${res.status}): ${message || 'no reason given.'}`;
      return `The server had a problem (${res.status}). Send again in a moment.`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering.

function addMessage(role, text) {
  const node = /** @type {HTMLElement} */ (el.template.content.firstElementChild.cloneNode(true));
  node.classList.add(role);
  node.querySelector('.bubble').textContent = text;
  // Who said it, for screen readers (an aria-label on the item would hide its text from some of them).
  node.prepend(span(role === 'user' ? 'You said:' : 'Assistant:', 'visually-hidden'));
  el.transcript.append(node);
  scrollToEnd();
  return node;
}

function renderMeta(answerNode, { cache, firstTokenMs, totalMs, usage, refresh }) {
  const meta = answerNode.querySelector('.meta');
  const badge = document.createElement('span');
  badge.className = `badge ${cache.label.toLowerCase()}`;
  badge.textContent = cache.label;
  badge.title =
    {
      HIT: 'Served from the Redis cache: no model call',
      MISS: 'Not in the cache: the model answered, and the answer was stored',
      COALESCED: 'Joined an identical request already in flight: one model call for both',
      BYPASS: 'The cache was skipped for this request',
    }[cache.label] ?? '';
  const parts = [badge];
  if (refresh || cache.refreshed) parts.push(span('refreshed'));
  if (cache.ageS !== undefined && (cache.label === 'HIT' || cache.label === 'COALESCED'))
    parts.push(span(`age ${formatAge(cache.ageS)}`, 'age'));
  if (firstTokenMs !== undefined) parts.push(span(`first token ${formatMs(firstTokenMs)}`, 'ttft'));
  parts.push(span(`total ${formatMs(totalMs)}`, 'total'));
  if (usage?.total_tokens !== undefined) parts.push(span(`${usage.total_tokens} tokens`, 'tokens'));
  const refreshButton = document.createElement('button');
  refreshButton.type = 'button';
  refreshButton.className = 'link refresh';
  refreshButton.textContent = 'Refresh';
  refreshButton.setAttribute('aria-label', 'Ask this again, bypassing the cache (Cache-Control: no-cache)');
  refreshButton.title = 'Ask again with Cache-Control: no-cache';
  refreshButton.addEventListener('click', () => void refreshAnswer(answerNode));
  parts.push(refreshButton);
  meta.replaceChildren(...parts);
}

function span(text, className = '') {
  const node = document.createElement('span');
  if (className) node.className = className;
  node.textContent = text;
  return node;
}

function formatMs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function formatAge(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

function scrollToEnd() {
  el.transcript.scrollTop = el.transcript.scrollHeight;
}

function setBusy(busy) {
  state.busy = busy;
  el.send.disabled = busy;
  el.send.textContent = busy ? 'Answering…' : 'Send';
}

function showError(message) {
  el.error.textContent = message;
  el.error.hidden = false;
}

function hideError() {
  el.error.hidden = true;
  el.error.textContent = '';
}

function announce(message) {
  el.status.textContent = message;
}

// ---------------------------------------------------------------------------------------------------------------
// The caller's own cache figures.

const integer = new Intl.NumberFormat('en-US');
const percent = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 });

async function refreshStats() {
  if (!state.config) return;
  const headers = { accept: 'application/json' };
  if (state.config.auth === 'bearer') {
    if (!state.apiKey) return;
    headers.authorization = `Bearer ${state.apiKey}`;
  }
  let stats;
  try {
    const res = await fetch('/chat/stats', { headers });
    if (res.status === 401) {
      el.statsNote.textContent = 'The API key was not accepted: no figures to show.';
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    stats = await res.json();
  } catch {
    el.statsNote.textContent = 'Figures unavailable right now.';
    return;
  }
  setStat('stat-hits', integer.format(stats.hits + stats.coalesced));
  setStat('stat-misses', integer.format(stats.misses));
  setStat('stat-ratio', percent.format(stats.cacheHitRatio));
  setStat('stat-tokens', integer.format(stats.tokensSaved));
  setStat('stat-dollars', formatUsd(stats.costSavedUsd));
  setStat('stat-latency', formatMs(stats.latencySavedMs));
  el.statsNote.textContent = `Tenant “${stats.tenant}” only. Hits include coalesced requests.`;
}

function setStat(id, text) {
  byId(id).textContent = text;
}

/** Dollars with cents, or with two significant digits below a cent (a cached answer saves fractions of one). */
function formatUsd(usd) {
  if (usd === 0 || usd >= 0.01) return `$${usd.toFixed(2)}`;
  return `$${usd.toFixed(Math.min(10, 1 - Math.floor(Math.log10(usd))))}`;
}

void init();
