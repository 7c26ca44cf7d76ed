import type { ChatCompletion, ChatCompletionChunk, CompletionUsage } from './llm.types.js';

/**
 * What is stored per key. A streamed answer keeps its exact chunk sequence (so a streamed hit replays it
 * chunk-for-chunk); a plain answer keeps the completion. Either serves either kind of request.
 */
export interface LlmCacheEntry {
  format: 1;
  createdAtMs: number;
  /** How long the provider took: what a hit saves. */
  upstreamLatencyMs: number;
  model: string;
  /** The TTL it was written with (remaining lifetime = ttlMs - age, for `Cache-Status: ttl=`). */
  ttlMs: number;
  completion?: ChatCompletion;
  chunks?: ChatCompletionChunk[];
}

/** What every reader of an entry relies on: a `choices` array of objects that each carry a `message` object. */
export function isWellFormedCompletion(value: unknown): value is ChatCompletion {
  const choices = (value as { choices?: unknown } | null)?.choices;
  return (
    Array.isArray(choices) &&
    choices.every((c) => isObject(c) && isObject((c as { message?: unknown }).message))
  );
}

/** A chunk with a `choices` array of objects, or a usage chunk (some servers leave `choices` out of it). */
export function isWellFormedChunk(value: unknown): value is ChatCompletionChunk {
  if (!isObject(value)) return false;
  const { choices, usage } = value as { choices?: unknown; usage?: unknown };
  if (choices === undefined) return isObject(usage);
  return Array.isArray(choices) && choices.every(isObject);
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Finish reasons of a complete answer; `length` (truncated) only when the option says so. */
export function isStorableFinish(
  reasons: Array<string | null | undefined>,
  storeLengthFinish: boolean,
): boolean {
  if (reasons.length === 0) return false;
  return reasons.every(
    (r) =>
      r === 'stop' || r === 'tool_calls' || r === 'function_call' || (storeLengthFinish && r === 'length'),
  );
}

/** Every choice seen in the stream ended with a finish_reason we store. */
export function isCompleteStream(chunks: ChatCompletionChunk[], storeLengthFinish: boolean): boolean {
  const finish = new Map<number, string | null>();
  for (const chunk of chunks) {
    for (const choice of chunk.choices ?? []) {
      if (!finish.has(choice.index)) finish.set(choice.index, null);
      if (choice.finish_reason) finish.set(choice.index, choice.finish_reason);
    }
  }
  return isStorableFinish([...finish.values()], storeLengthFinish);
}

/** Every choice seen in the stream got a finish_reason, whatever it is: the upstream answered in full. */
export function hasFinished(chunks: ChatCompletionChunk[]): boolean {
  const finished = new Map<number, boolean>();
  for (const chunk of chunks) {
    for (const choice of chunk.choices ?? []) {
      finished.set(choice.index, finished.get(choice.index) === true || !!choice.finish_reason);
    }
  }
  return finished.size > 0 && [...finished.values()].every(Boolean);
}

export function entryUsage(entry: LlmCacheEntry): CompletionUsage | undefined {
  if (entry.completion) return entry.completion.usage ?? undefined;
  for (let i = (entry.chunks?.length ?? 0) - 1; i >= 0; i--) {
    const usage = entry.chunks![i].usage;
    if (usage) return usage;
  }
  return undefined;
}

export function entryToCompletion(entry: LlmCacheEntry): ChatCompletion {
  return entry.completion ?? assembleCompletion(entry.chunks ?? []);
}

export function entryToChunks(entry: LlmCacheEntry): ChatCompletionChunk[] {
  return entry.chunks ?? synthesizeChunks(entry.completion!);
}

interface ToolCallDraft {
  id?: string;
  type?: 'function';
  function: { name: string; arguments: string };
}

/** Rebuilds the completion a stream describes: content and tool-call arguments concatenated per choice. */
export function assembleCompletion(chunks: ChatCompletionChunk[]): ChatCompletion {
  const first = chunks[0];
  const choices = new Map<
    number,
    {
      content: string | null;
      refusal: string | null;
      finish: string | null;
      tools: Map<number, ToolCallDraft>;
      logprobs: unknown[];
    }
  >();
  let usage: CompletionUsage | undefined;
  for (const chunk of chunks) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices ?? []) {
      let draft = choices.get(c.index);
      if (!draft)
        choices.set(
          c.index,
          (draft = { content: null, refusal: null, finish: null, tools: new Map(), logprobs: [] }),
        );
      const d = c.delta ?? {};
      if (typeof d.content === 'string') draft.content = (draft.content ?? '') + d.content;
      if (typeof d.refusal === 'string') draft.refusal = (draft.refusal ?? '') + d.refusal;
      for (const t of d.tool_calls ?? []) {
        let tool = draft.tools.get(t.index);
        if (!tool) draft.tools.set(t.index, (tool = { function: { name: '', arguments: '' } }));
        if (t.id) tool.id = t.id;
        if (t.type === 'function') tool.type = t.type;
        if (t.function?.name) tool.function.name += t.function.name;
        if (t.function?.arguments) tool.function.arguments += t.function.arguments;
      }
      if (c.logprobs?.content) draft.logprobs.push(...c.logprobs.content);
      if (c.finish_reason) draft.finish = c.finish_reason;
    }
  }
  const completion: ChatCompletion = {
    id: first?.id ?? '',
    object: 'chat.completion',
    created: first?.created ?? Math.floor(Date.now() / 1000),
    model: first?.model ?? '',
    choices: [...choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, d]) => {
        const toolCalls = [...d.tools.entries()]
          .sort(([a], [b]) => a - b)
          .map(([, t]) => ({ id: t.id ?? '', type: 'function' as const, function: t.function }));
        const message: ChatCompletion.Choice['message'] = {
          role: 'assistant',
          content: toolCalls.length && d.content === '' ? null : d.content,
          refusal: d.refusal,
        };
        if (toolCalls.length) message.tool_calls = toolCalls;
        return {
          index,
          message,
          logprobs: d.logprobs.length
            ? ({ content: d.logprobs, refusal: null } as ChatCompletion.Choice['logprobs'])
            : null,
          finish_reason: (d.finish ?? 'stop') as ChatCompletion.Choice['finish_reason'],
        };
      }),
  };
  if (first?.system_fingerprint) completion.system_fingerprint = first.system_fingerprint;
  if (usage) completion.usage = usage;
  return completion;
}

/**
 * A chunk sequence for a stored completion, shaped like OpenAI's: per choice a role chunk, content and tool-call
 * deltas, a finish chunk; then a usage chunk with no choices. The SDK's strict `.stream()` helper accepts it.
 */
export function synthesizeChunks(completion: ChatCompletion): ChatCompletionChunk[] {
  const base = {
    id: completion.id,
    object: 'chat.completion.chunk' as const,
    created: completion.created,
    model: completion.model,
    ...(completion.system_fingerprint ? { system_fingerprint: completion.system_fingerprint } : {}),
  };
  const out: ChatCompletionChunk[] = [];
  for (const choice of completion.choices) {
    const { index, message } = choice;
    out.push({
      ...base,
      choices: [{ index, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    if (message.content)
      out.push({ ...base, choices: [{ index, delta: { content: message.content }, finish_reason: null }] });
    if (message.refusal)
      out.push({ ...base, choices: [{ index, delta: { refusal: message.refusal }, finish_reason: null }] });
    (message.tool_calls ?? []).forEach((call, i) => {
      if (call.type !== 'function') return;
      out.push({
        ...base,
        choices: [
          {
            index,
            delta: {
              tool_calls: [
                {
                  index: i,
                  id: call.id,
                  type: 'function',
                  function: { name: call.function.name, arguments: call.function.arguments },
                },
              ],
            },
            finish_reason: null,
          },
        ],
      });
    });
    out.push({ ...base, choices: [{ index, delta: {}, finish_reason: choice.finish_reason }] });
  }
  if (completion.usage) out.push({ ...base, choices: [], usage: completion.usage });
  return out;
}

/**
 * What a client sees of a chunk: the usage chunk and the `usage` members only when it asked for them with
 * `stream_options.include_usage` (the cache always asks the upstream, so hits can count tokens saved).
 */
export function chunkForClient(
  chunk: ChatCompletionChunk,
  includeUsage: boolean,
): ChatCompletionChunk | undefined {
  if (includeUsage) return chunk;
  if ((chunk.choices?.length ?? 0) === 0 && chunk.usage) return undefined;
  if (!('usage' in chunk)) return chunk;
  const { usage: _usage, ...rest } = chunk;
  return rest as ChatCompletionChunk;
}
