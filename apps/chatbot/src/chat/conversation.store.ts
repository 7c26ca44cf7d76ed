import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { RedisCacheService } from '@llm-cache/redis-cache';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';

export interface ConversationMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** A conversation's history as read or written, with the revision of that write (absent on older records). */
export interface Conversation {
  messages: ConversationMessage[];
  rev?: string;
}

interface StoredConversation {
  messages: ConversationMessage[];
  updatedAtMs: number;
  /** Random per write: two records with the same `rev` are the same write, whichever process made or read it. */
  rev?: string;
}

/** Conversations whose last known revision this process remembers (the newest used ones; oldest dropped). */
export const RECENT_CONVERSATIONS = 1000;
/** ...and at most this many characters of their messages together (a speed-up must not hold much memory). */
export const RECENT_HISTORY_CHARS = 2_000_000;
/** Above this many unanswered writes a turn waits for its own write (back-pressure instead of an unbounded map). */
export const MAX_PENDING_WRITES = 10_000;

/**
 * Conversation history in Redis under `<prefix>:conv:<tenant>:<id>` (outside `llm:*`, so clearing the LLM cache
 * never loses a conversation). Bounded in length (oldest turns dropped) and in time (TTL refreshed on every turn).
 * Fail-open like the cache: with Redis down a turn is answered without its history rather than failed.
 *
 * Writes leave the turn's critical path without reordering turns:
 * - a write is on the Redis connection (`dispatchNow`) before the caller of `append` resumes from awaiting it, so
 *   before the client gets its reply. A next turn the client sends after that reply reaches Redis after the write — also through another
 *   replica on the same Redis: the write is in Redis' socket buffer before the reply leaves this process, and
 *   Redis serves one command at a time.
 * - in this process the next turn of a conversation reads only after the previous turn's write was answered
 *   (`pendingWrites`, one entry per conversation, removed when it settles).
 * - a failed write is logged (the cause by RedisCacheService) and never rejects; shutdown waits for pending writes.
 */
@Injectable()
export class ConversationStore implements OnApplicationShutdown {
  private readonly logger = new Logger('ConversationStore');
  private readonly pendingWrites = new Map<string, Promise<boolean>>();
  private readonly recent = new Map<string, Conversation & { chars: number }>();
  private recentChars = 0;

  constructor(
    private readonly cache: RedisCacheService,
    @InjectChatbotConfig() private readonly config: ChatbotConfig,
  ) {}

  /**
   * The history of a conversation of this tenant; null when it does not exist (unknown, expired, another tenant's).
   * When Redis cannot tell (down), an empty history: the turn is answered without it (fail-open).
   */
  async load(tenant: string, conversationId: string): Promise<Conversation | null> {
    const key = this.key(tenant, conversationId);
    await this.pendingWrites.get(key);
    return this.resolve(key, await this.cache.get<StoredConversation>(key));
  }

  /**
   * `load`, and the value of `otherKey` read in the same round trip (one MGET; one GET per key on a cluster).
   * For a caller that can guess the next key it needs from the history it expects (`recentHistory`).
   */
  async loadWith(
    tenant: string,
    conversationId: string,
    otherKey: string,
  ): Promise<{ conversation: Conversation | null; other: unknown }> {
    const key = this.key(tenant, conversationId);
    await this.pendingWrites.get(key);
    const [stored, other] = await this.cache.getMany<unknown>([key, otherKey]);
    return { conversation: await this.resolve(key, stored as StoredConversation | undefined), other };
  }

  /**
   * The history this process last wrote or read for the conversation, once its pending write settled; a guess to be
   * confirmed by the `rev` that `load`/`loadWith` return, never an answer on its own.
   */
  async recentHistory(tenant: string, conversationId: string): Promise<Conversation | undefined> {
    const key = this.key(tenant, conversationId);
    await this.pendingWrites.get(key);
    const recent = this.recent.get(key);
    return recent && { messages: recent.messages, rev: recent.rev };
  }

  /**
   * Appends messages and keeps the newest `CONVERSATION_MAX_MESSAGES`. The write is on the Redis connection before
   * the caller resumes from awaiting this; it resolves at once (the write settles in the background, the next turn of the same
   * conversation in this process waits for it), or when the write settled if too many are pending. Never rejects.
   */
  append(
    tenant: string,
    conversationId: string,
    history: ConversationMessage[],
    added: ConversationMessage[],
  ): Promise<void> {
    const { maxMessages, ttlMs } = this.config.conversation;
    let messages = [...history, ...added].slice(-maxMessages);
    // Never start the window on an assistant turn: the model would see an answer without its question.
    if (messages[0]?.role === 'assistant') messages = messages.slice(1);
    const rev = randomUUID();
    const value: StoredConversation = { messages, updatedAtMs: Date.now(), rev };
    const key = this.key(tenant, conversationId);
    this.remember(key, { messages, rev });
    const settled: Promise<boolean> = this.cache
      .set(key, value, { ttlMs, dispatchNow: true })
      .then(
        (saved) => {
          if (!saved)
            this.notSaved(
              key,
              'Redis unavailable, slower than the command deadline, or the history over maxEntryBytes',
            );
          return saved;
        },
        (err: unknown) => {
          this.notSaved(key, (err as Error)?.message ?? String(err));
          return false;
        },
      )
      .then((saved) => {
        if (this.pendingWrites.get(key) === settled) this.pendingWrites.delete(key);
        // Redis does not hold this revision: the next turn must not take it for the stored history.
        if (!saved && this.recent.get(key)?.rev === rev) this.forget(key);
        return saved;
      });
    if (this.pendingWrites.size >= MAX_PENDING_WRITES) return settled.then(() => undefined);
    this.pendingWrites.set(key, settled);
    return Promise.resolve();
  }

  /** How many writes are waiting for Redis' answer (tests, metrics). */
  get pendingWriteCount(): number {
    return this.pendingWrites.size;
  }

  /** Writes issued by turns already answered must reach Redis before its client quits (bounded in time). */
  async onApplicationShutdown(): Promise<void> {
    if (this.pendingWrites.size === 0) return;
    const boundMs = this.cache.options.commandTimeoutMs * 2;
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.all(this.pendingWrites.values()).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), boundMs))),
    ]);
    clearTimeout(timer);
    if (!settled)
      this.logger.warn(
        `shutdown: ${this.pendingWrites.size} conversation writes unanswered after ${boundMs} ms`,
      );
  }

  private async resolve(key: string, stored: StoredConversation | undefined): Promise<Conversation | null> {
    if (Array.isArray(stored?.messages)) {
      const conversation: Conversation = { messages: stored.messages, rev: stored.rev };
      this.remember(key, conversation);
      return conversation;
    }
    // A miss and a failed read look alike: one more round trip, on misses only, tells them apart.
    this.forget(key);
    return (await this.cache.exists(key)) === false ? null : { messages: [] };
  }

  private remember(key: string, conversation: Conversation): void {
    this.forget(key);
    if (conversation.rev === undefined) return;
    const chars = conversation.messages.reduce(
      (sum, m) => sum + (typeof m.content === 'string' ? m.content.length : 0),
      0,
    );
    if (chars > RECENT_HISTORY_CHARS / 100) return; // one huge history would push out a hundred ordinary ones
    this.recent.set(key, { ...conversation, chars });
    this.recentChars += chars;
    while (this.recent.size > RECENT_CONVERSATIONS || this.recentChars > RECENT_HISTORY_CHARS)
      this.forget(this.recent.keys().next().value!);
  }

  private forget(key: string): void {
    const known = this.recent.get(key);
    if (!known) return;
    this.recent.delete(key);
    this.recentChars -= known.chars;
  }

  private notSaved(key: string, why: string): void {
    // After a timeout the write may still have landed: "not confirmed"; the next turn reads whatever Redis holds.
    this.logger.warn(
      `conversation ${key}: history write not confirmed (the next turn may miss this one): ${why}`,
    );
  }

  private key(tenant: string, conversationId: string): string {
    return `conv:${tenant}:${conversationId}`;
  }
}
