/**
 * A Nest `LoggerService` that keeps what it is given, for specs that assert on log lines (counts, causes, and that
 * no secret is printed). Pass it to `Test.createTestingModule(…).setLogger(capture)` or `createNestApplication({
 * logger: capture })`: every `new Logger(context)` then writes here.
 */
import type { LoggerService } from '@nestjs/common';

export interface CapturedLine {
  level: 'log' | 'warn' | 'error' | 'debug' | 'verbose' | 'fatal';
  context?: string;
  message: string;
}

export class LogCapture implements LoggerService {
  readonly lines: CapturedLine[] = [];

  log = this.record('log');
  warn = this.record('warn');
  error = this.record('error');
  debug = this.record('debug');
  verbose = this.record('verbose');
  fatal = this.record('fatal');

  matching(pattern: RegExp, context?: string): CapturedLine[] {
    return this.lines.filter((l) => pattern.test(l.message) && (!context || l.context === context));
  }

  /** Everything logged, one line per entry: for "never contains the prompt/the key" assertions. */
  text(): string {
    return this.lines.map((l) => `${l.level} [${l.context ?? ''}] ${l.message}`).join('\n');
  }

  clear(): void {
    this.lines.length = 0;
  }

  private record(level: CapturedLine['level']) {
    return (message: unknown, ...rest: unknown[]) => {
      const last = rest.at(-1);
      const text =
        message instanceof Error
          ? message.message
          : typeof message === 'string'
            ? message
            : JSON.stringify(message);
      this.lines.push({ level, context: typeof last === 'string' ? last : undefined, message: text });
    };
  }
}
