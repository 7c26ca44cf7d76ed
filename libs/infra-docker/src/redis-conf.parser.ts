/**
 * Reads redis.conf text the way Redis does (`sdssplitargs` per line): whitespace-separated arguments, double
 * quotes with C escapes (`\n`, `\xHH`, …), single quotes with only `\'`, `#` comments on their own line.
 */
export interface RedisConfDirective {
  /** 1-based line in the text. */
  line: number;
  /** Lower-cased, as Redis matches names case-insensitively. */
  name: string;
  args: string[];
}

export interface RedisConfParseResult {
  directives: RedisConfDirective[];
  errors: string[];
}

export function parseRedisConf(text: string): RedisConfParseResult {
  const directives: RedisConfDirective[] = [];
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const words = splitArgs(line);
    if (!words) {
      errors.push(`line ${index + 1}: unbalanced quotes in ${JSON.stringify(line)}`);
      return;
    }
    directives.push({ line: index + 1, name: words[0].toLowerCase(), args: words.slice(1) });
  });
  return { directives, errors };
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' };

/** A port of Redis' `sdssplitargs`; undefined where Redis reports "Unbalanced quotes". */
export function splitArgs(line: string): string[] | undefined {
  const args: string[] = [];
  let i = 0;
  while (true) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) return args;
    let current = '';
    let inDouble = false;
    let inSingle = false;
    for (;;) {
      const c = line[i];
      if (inDouble) {
        if (c === undefined) return undefined;
        if (c === '\\' && line[i + 1] === 'x' && /^[0-9a-f]{2}$/i.test(line.slice(i + 2, i + 4))) {
          current += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === '\\' && i + 1 < line.length) {
          i++;
          current += ESCAPES[line[i]] ?? line[i];
        } else if (c === '"') {
          // A closing quote must be followed by a space or the end of the line.
          if (i + 1 < line.length && !/\s/.test(line[i + 1])) return undefined;
          i++;
          break;
        } else {
          current += c;
        }
      } else if (inSingle) {
        if (c === undefined) return undefined;
        if (c === '\\' && line[i + 1] === "'") {
          i++;
          current += "'";
        } else if (c === "'") {
          if (i + 1 < line.length && !/\s/.test(line[i + 1])) return undefined;
          i++;
          break;
        } else {
          current += c;
        }
      } else {
        if (c === undefined || /\s/.test(c)) break;
        if (c === '"') inDouble = true;
        else if (c === "'") inSingle = true;
        else current += c;
      }
      i++;
    }
    args.push(current);
  }
}

/** Quotes an argument so `splitArgs` reads it back unchanged (only when it needs quoting). */
export function quoteArg(value: string): string {
  if (value !== '' && /^[\x21-\x7e]+$/.test(value) && !/["'\\]/.test(value)) return value;
  let out = '"';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
