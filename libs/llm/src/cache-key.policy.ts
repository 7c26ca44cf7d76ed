import { hash } from 'node:crypto';
import { canonicalJson } from '@llm-cache/redis-cache';
import { LLM_KEY_NAMESPACE } from './llm.constants.js';
import type { ChatCompletionRequest } from './llm.types.js';

/** What a custom key function is given besides the request. The result is hashed and scoped like the default. */
export interface CacheKeyContext {
  tenant: string;
  providerIdentity: string;
  schemaVersion: number;
}

/** The seed's custom-key hook: return any string; equal strings share an entry (within a tenant). */
export type CacheKeyFn = (request: ChatCompletionRequest, context: CacheKeyContext) => string;

/** Names and hashes of what went into a key, never the content itself (safe to log or return to a client). */
export interface CacheKeyExplanation {
  key: string;
  schemaVersion: number;
  tenant: string;
  provider: string;
  fields: Array<{ name: string; sha256: string }>;
  excluded: string[];
}

/**
 * Fields that never change the answer: transport (`stream`, `stream_options`), bookkeeping (`metadata`, `store`,
 * request ids, `prompt_cache_key`), abuse tracking (`user`, `safety_identifier`; `user` can be opted in). Everything else,
 * including fields we do not know, is part of the key. (Our body `cache` controls never get here: the LLM cache
 * interceptor takes them off the body.)
 */
export const VOLATILE_FIELDS: readonly string[] = [
  'stream',
  'stream_options',
  'user',
  'safety_identifier',
  'metadata',
  'store',
  'request_id',
  'requestId',
  'prompt_cache_key',
];

/** Tenants that are safe as a key segment as is; others are hashed (no glob characters, no `:`, bounded length). */
const SAFE_TENANT = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
/**
 * The key segment of entries shared across tenants. No tenant's segment can equal it: SAFE_TENANT never starts
 * with `_`, so a tenant named `_shared` is hashed like any other unsafe name (and its digest says `tenant`, the
 * shared one `shared: true`).
 */
const SHARED_TENANT_SEGMENT = '_shared';

export interface CacheKeyPolicyOptions {
  schemaVersion: number;
  shareAcrossTenants: boolean;
  includeUserField: boolean;
  cacheKeyFn?: CacheKeyFn;
}

/**
 * Request → `llm:v<schema>:<tenant>:<sha256>`. The digest covers the canonical request (sorted keys, defaults
 * normalized, volatile fields removed), the provider identity, the schema version and the tenant.
 *
 * Normalization (absent ≡ default, so `{}` and `{temperature: 1}` share an entry):
 * | field | normalized |
 * |---|---|
 * | any `null` object member | removed (OpenAI treats null as absent) |
 * | temperature, top_p, n | absent → 1 |
 * | presence_penalty, frequency_penalty | absent → 0 |
 * | max_tokens / max_completion_tokens | one field `max_completion_tokens` (the newer name wins when both are set) |
 * | stop | `"x"` → `["x"]`; `[]` → absent |
 * | logit_bias `{}`, tools `[]`, response_format `{type:"text"}` | absent |
 * | tool_choice, parallel_tool_calls | without tools: removed; with tools: absent → `"auto"` / `true` |
 */
export class CacheKeyPolicy {
  constructor(protected readonly options: CacheKeyPolicyOptions) {}

  /**
   * The key (without the Redis prefix): the hot path. Writes the canonical JSON of the request in one walk
   * (`writeCanonicalRequest`) instead of building stripped and normalized copies first; the result is
   * byte-identical to what `explain()` derives (a spec holds the two together).
   */
  key(request: ChatCompletionRequest, tenant: string, providerIdentity: string): string {
    if (this.options.cacheKeyFn) return this.derive(request, tenant, providerIdentity).key;
    return this.format(writeCanonicalRequest(request, this.volatile), tenant, providerIdentity);
  }

  /** The key and what went into it: each field's name and hash (computed only here, never on the request path). */
  explain(request: ChatCompletionRequest, tenant: string, providerIdentity: string): CacheKeyExplanation {
    const { key, scope, fields, excluded, custom } = this.derive(request, tenant, providerIdentity);
    const explained =
      custom !== undefined
        ? [{ name: 'cacheKeyFn', sha256: sha256(custom) }]
        : Object.keys(fields)
            .sort()
            .map((name) => ({ name, sha256: sha256(canonicalJson(fields[name])) }));
    return {
      key,
      schemaVersion: this.options.schemaVersion,
      tenant: scope,
      provider: providerIdentity,
      fields: explained,
      excluded,
    };
  }

  protected derive(request: ChatCompletionRequest, tenant: string, providerIdentity: string) {
    const { schemaVersion } = this.options;
    const shared = this.options.shareAcrossTenants;
    const scope = shared ? SHARED_TENANT_SEGMENT : tenant;
    const { fields, excluded } = this.canonicalize(request);
    let custom: string | undefined;
    if (this.options.cacheKeyFn) {
      custom = this.options.cacheKeyFn(request, { tenant: scope, providerIdentity, schemaVersion });
      if (typeof custom !== 'string' || custom.length === 0)
        throw new TypeError('cacheKeyFn must return a non-empty string');
    }
    const key = this.format(custom ?? canonicalJson(fields), tenant, providerIdentity);
    return { key, scope, fields, excluded, custom };
  }

  /**
   * `llm:v<schema>:<tenant segment>:{<sha256>}`. The digest is in a hash tag so the entry and its lock
   * (`llm-lock:…:{<sha256>}`) live in one Redis Cluster slot: the miss path's scripts touch both in one call.
   * The digest covers `canonicalJson({provider, request, shared|tenant, v})`, written out in its sorted key order.
   */
  protected format(material: string, tenant: string, providerIdentity: string): string {
    const { schemaVersion } = this.options;
    const shared = this.options.shareAcrossTenants;
    const digest = sha256(
      `{"provider":${JSON.stringify(providerIdentity)},"request":${JSON.stringify(material)},` +
        `${shared ? '"shared":true' : `"tenant":${JSON.stringify(tenant)}`},"v":${JSON.stringify(schemaVersion)}}`,
    );
    const segment = shared ? SHARED_TENANT_SEGMENT : tenantSegment(tenant);
    return `${LLM_KEY_NAMESPACE}:v${schemaVersion}:${segment}:{${digest}}`;
  }

  private get volatile(): ReadonlySet<string> {
    return (this.volatileFields ??= new Set(
      VOLATILE_FIELDS.filter((f) => f !== 'user' || !this.options.includeUserField),
    ));
  }
  private volatileFields?: ReadonlySet<string>;

  /** Top-level canonical fields, and the names of the request's fields that were left out. */
  canonicalize(request: ChatCompletionRequest): { fields: Record<string, unknown>; excluded: string[] } {
    const volatile = this.volatile;
    const kept: Array<[string, unknown]> = [];
    const excluded: string[] = [];
    for (const [name, value] of Object.entries(request)) {
      if (volatile.has(name)) excluded.push(name);
      else if (value !== undefined && value !== null) kept.push([name, stripNulls(value)]);
    }
    const fields = Object.fromEntries(kept);
    normalizeDefaults(fields);
    return { fields, excluded: excluded.sort() };
  }
}

/** Pure normalization of defaults, in place (see the table on `CacheKeyPolicy`). */
export function normalizeDefaults(f: Record<string, unknown>): void {
  for (const [name, dflt] of [
    ['temperature', 1],
    ['top_p', 1],
    ['n', 1],
    ['presence_penalty', 0],
    ['frequency_penalty', 0],
  ] as const) {
    if (f[name] === undefined) f[name] = dflt;
  }
  if (f.max_completion_tokens === undefined && f.max_tokens !== undefined)
    f.max_completion_tokens = f.max_tokens;
  delete f.max_tokens;
  if (typeof f.stop === 'string') f.stop = [f.stop];
  if (Array.isArray(f.stop) && f.stop.length === 0) delete f.stop;
  if (isPlainObject(f.logit_bias) && Object.keys(f.logit_bias).length === 0) delete f.logit_bias;
  if (Array.isArray(f.tools) && f.tools.length === 0) delete f.tools;
  if (
    isPlainObject(f.response_format) &&
    f.response_format.type === 'text' &&
    Object.keys(f.response_format).length === 1
  ) {
    delete f.response_format;
  }
  if (f.tools === undefined) {
    delete f.tool_choice;
    delete f.parallel_tool_calls;
  } else {
    f.tool_choice ??= 'auto';
    f.parallel_tool_calls ??= true;
  }
}

/** The one canonical JSON of the project (sorted keys at every depth), shared with redis-cache's response keys. */
export { canonicalJson };

/** One-shot `crypto.hash` (Node ≥ 21.7): no Hash object per call on the hot path. */
export function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/** A tenant's key segment: the name when it is safe, else `~` and a hash (never the shared segment). */
export function tenantSegment(tenant: string): string {
  return SAFE_TENANT.test(tenant) ? tenant : `~${sha256(tenant).slice(0, 24)}`;
}

/**
 * Drops null/undefined members at every depth. Built with `Object.fromEntries` (own data properties): assigning
 * `out[k]` would turn a `"__proto__"` field from the request into the object's prototype and drop it from the key.
 */
function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, stripNulls(v)]),
    );
  }
  return value;
}

/**
 * `canonicalJson(canonicalize(request).fields)` in one walk: top-level fields filtered and normalized on a shallow
 * copy, every value written with sorted keys and null members dropped as it is serialized. Keys are read with
 * `Object.keys` and written as text, so an own `"__proto__"` field is kept like any other.
 */
export function writeCanonicalRequest(request: ChatCompletionRequest, volatile: ReadonlySet<string>): string {
  const f: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const name of Object.keys(request)) {
    const value = (request as Record<string, unknown>)[name];
    if (value === undefined || value === null || volatile.has(name)) continue;
    // normalizeDefaults counts the members of these two: count them as canonicalize would (nulls stripped).
    f[name] = name === 'logit_bias' || name === 'response_format' ? stripNulls(value) : value;
  }
  normalizeDefaults(f);
  const names = canonicalKeys(f);
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    const text = writeValue(f[names[i]]);
    if (text === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(names[i])}:${text}`;
  }
  return out + '}';
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * Keys in the order canonicalJson writes them: it rebuilds each object from sorted entries, and an object lists
 * array-index keys (`"50256"` in a logit_bias) first, ascending by number, then the others in insertion (here:
 * sorted) order. `Object.keys` already lists the index keys first and ascending, so only the rest is sorted.
 */
function canonicalKeys(o: object): string[] {
  const keys = Object.keys(o);
  let i = 0;
  while (i < keys.length && ARRAY_INDEX.test(keys[i]) && Number(keys[i]) < 4294967295) i++;
  if (i === 0) return keys.sort();
  return i === keys.length ? keys : keys.slice(0, i).concat(keys.slice(i).sort());
}

/** One value as canonicalJson(stripNulls(value)) would write it; undefined where JSON.stringify omits it. */
function writeValue(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(v);
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) out += `${i ? ',' : ''}${writeValue(v[i]) ?? 'null'}`;
        return out + ']';
      }
      const o = v as Record<string, unknown>;
      const keys = canonicalKeys(o);
      let out = '{';
      for (const k of keys) {
        const m = o[k];
        if (m === null || m === undefined) continue;
        const text = writeValue(m);
        if (text !== undefined) out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${text}`;
      }
      return out + '}';
    }
    default:
      // undefined, functions and symbols are left out by JSON.stringify; a bigint throws there and here.
      return JSON.stringify(v);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
