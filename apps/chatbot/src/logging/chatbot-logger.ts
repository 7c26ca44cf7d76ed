import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { currentRequestId } from './request-context.js';

type JsonLogOptions = Parameters<ConsoleLogger['getJsonLogObject']>[1];

/**
 * Nest's console logger, plus the id of the request a line is about (`requestId` in JSON, `[req <id>]` in text).
 * `json: true` (production) writes one JSON object per line, without ANSI colours, for log collectors.
 */
export class ChatbotLogger extends ConsoleLogger {
  constructor(options: { json: boolean; logLevels?: LogLevel[] }) {
    super({
      json: options.json,
      colors: !options.json && process.stdout.isTTY,
      logLevels: options.logLevels,
    });
  }

  protected override getJsonLogObject(message: unknown, options: JsonLogOptions) {
    const record = super.getJsonLogObject(message, options);
    const requestId = currentRequestId();
    return requestId ? { ...record, requestId } : record;
  }

  protected override formatContext(context: string): string {
    const requestId = currentRequestId();
    return requestId ? `${super.formatContext(context)}[req ${requestId}] ` : super.formatContext(context);
  }
}
