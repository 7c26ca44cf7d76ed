import { Logger } from '@nestjs/common';
import { APIError } from 'openai';
import type { LlmProviderError } from './llm-provider.error.js';

export interface UpstreamFailureDetails {
  model?: string;
  tenant?: string;
  requestId?: string;
  durationMs?: number;
}

export interface UpstreamFailureLogOptions {
  /** Lines logged in full per window; past it, failures are only counted and summed up when the window ends. */
  maxLinesPerWindow?: number;
  windowMs?: number;
}

const DEFAULT_MAX_LINES = 5;
const DEFAULT_WINDOW_MS = 10_000;
const MAX_MESSAGE_CHARS = 200;

/**
 * One warning per failed upstream call — status, code, upstream status, model, tenant, request id, duration —
 * never the prompt or a credential (the upstream's message is shortened and anything key-like is masked). Limited
 * to `maxLinesPerWindow` lines per `windowMs`, then one summary line with the count by status, so a provider outage
 * at thousands of requests a second logs a few lines, not thousands.
 */
export class UpstreamFailureLog {
  private windowStartMs = 0;
  private linesInWindow = 0;
  private readonly suppressed = new Map<number, number>();
  private summaryTimer?: NodeJS.Timeout;
  private readonly maxLines: number;
  private readonly windowMs: number;

  constructor(
    protected readonly logger: Pick<Logger, 'warn'> = new Logger('LlmUpstream'),
    options: UpstreamFailureLogOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.maxLines = options.maxLinesPerWindow ?? DEFAULT_MAX_LINES;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  }

  record(error: LlmProviderError, details: UpstreamFailureDetails): void {
    // The caller went away: nothing is wrong upstream.
    if (error.type === 'aborted') return;
    const now = this.now();
    if (now - this.windowStartMs >= this.windowMs) {
      this.flush();
      this.windowStartMs = now;
      this.linesInWindow = 0;
    }
    if (this.linesInWindow < this.maxLines) {
      this.linesInWindow++;
      this.logger.warn(describe(error, details));
      return;
    }
    this.suppressed.set(error.status, (this.suppressed.get(error.status) ?? 0) + 1);
    if (!this.summaryTimer) {
      this.summaryTimer = setTimeout(() => this.flush(), this.windowStartMs + this.windowMs - now);
      this.summaryTimer.unref();
    }
  }

  /** Logs the summary of the failures counted but not logged in the current window, if any. */
  flush(): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    if (this.suppressed.size === 0) return;
    const total = [...this.suppressed.values()].reduce((a, b) => a + b, 0);
    const byStatus = [...this.suppressed].map(([status, n]) => `${status}×${n}`).join(', ');
    this.suppressed.clear();
    this.logger.warn(
      `upstream call failed ${total} more times in the last ${Math.round(this.windowMs / 1000)} s (not logged one by one): ${byStatus}`,
    );
  }
}

function describe(error: LlmProviderError, d: UpstreamFailureDetails): string {
  const cause = (error as { cause?: unknown }).cause;
  const upstreamStatus = cause instanceof APIError ? cause.status : undefined;
  const fields = [
    `status=${error.status}`,
    `code=${error.code ?? error.type}`,
    upstreamStatus !== undefined ? `upstream_status=${upstreamStatus}` : undefined,
    d.model ? `model=${oneToken(d.model)}` : undefined,
    d.tenant ? `tenant=${oneToken(d.tenant)}` : undefined,
    d.requestId ? `request_id=${oneToken(d.requestId)}` : undefined,
    d.durationMs !== undefined ? `duration_ms=${Math.round(d.durationMs)}` : undefined,
  ].filter(Boolean);
  return `upstream call failed: ${fields.join(' ')}: ${safeMessage(error.message)}`;
}

/** A value that cannot break the line or forge another field. */
function oneToken(value: string): string {
  return JSON.stringify(value.slice(0, 100)).slice(1, -1).replace(/\s/g, '_');
}

/** Shortened, one line, and with anything that looks like a credential masked (providers echo part of a key). */
function safeMessage(message: string): string {
  const masked = message
    .replace(/\b(sk|pk|rk|key)[-_][A-Za-z0-9_*.-]{4,}/gi, '$1-***')
    .replace(/Bearer\s+\S+/gi, 'Bearer ***')
    .replace(/\s+/g, ' ');
  return masked.length > MAX_MESSAGE_CHARS ? `${masked.slice(0, MAX_MESSAGE_CHARS)}…` : masked;
}
