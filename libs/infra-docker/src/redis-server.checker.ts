import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quoteArg } from './redis-conf.parser.js';

export interface RedisServerCheckResult {
  /** False when no redis-server binary could be run: nothing was checked. */
  available: boolean;
  errors: string[];
}

/** "Ready to accept connections" on TCP, "…is now ready to accept connections at <socket>" on a unix socket. */
const READY = /ready to accept connections/i;

/**
 * Loads a redis.conf into the real `redis-server` — the final word on what Redis accepts, since it refuses bad
 * directives before it starts. The server runs in a scratch directory on port 0 (no TCP listener, a unix socket in that directory) with
 * persistence off, so the check touches neither the network nor any data, and is killed once it's ready.
 */
export class RedisServerConfigChecker {
  constructor(
    private readonly binary: string = 'redis-server',
    private readonly timeoutMs = 5000,
  ) {}

  async check(configText: string): Promise<RedisServerCheckResult> {
    const dir = await mkdtemp(join(tmpdir(), 'llm-cache-redis-check-'));
    try {
      const file = join(dir, 'redis.conf');
      await writeFile(file, localizePaths(configText, dir), { mode: 0o600 });
      // Arguments after the file are appended to it, so they override where the server would write or listen
      // without hiding errors in the file's own lines (whose numbers stay the same).
      const args = [
        file,
        '--port',
        '0',
        '--unixsocket',
        join(dir, 'redis.sock'),
        '--dir',
        dir,
        '--daemonize',
        'no',
      ];
      args.push('--logfile', '', '--loglevel', 'notice');
      args.push('--appendonly', 'no', '--save', '', '--supervised', 'no');
      return await this.run(args);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private run(args: string[]): Promise<RedisServerCheckResult> {
    return new Promise((resolve) => {
      let output = '';
      let settled = false;
      const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const finish = (result: RedisServerCheckResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        resolve(result);
      };
      const timer = setTimeout(
        () =>
          finish({
            available: true,
            errors: [`redis-server did not load the file within ${this.timeoutMs} ms`],
          }),
        this.timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (READY.test(output)) finish({ available: true, errors: [] });
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (err: NodeJS.ErrnoException) =>
        finish(
          err.code === 'ENOENT'
            ? { available: false, errors: [] }
            : { available: true, errors: [`redis-server could not run: ${err.message}`] },
        ),
      );
      child.once('close', (code) =>
        finish({ available: true, errors: code === 0 ? [] : [describeFailure(output)] }),
      );
    });
  }
}

/**
 * Paths in the file are the container's (`dir /data`), and Redis applies `dir` the moment it reads the line —
 * before any command-line override. Those lines point into the scratch directory instead, one for one, so the
 * line numbers in Redis' messages stay right.
 */
function localizePaths(text: string, dir: string): string {
  return text
    .split('\n')
    .map((line) => {
      const name = /^\s*(dir|logfile|pidfile|unixsocket)\s/i.exec(line)?.[1]?.toLowerCase();
      if (name === 'dir') return `dir ${quoteArg(dir)}`;
      if (name) return `${name} ""`;
      return line;
    })
    .join('\n');
}

/** Redis' "FATAL CONFIG FILE ERROR" block → one line naming the line, the directive and the reason. */
export function describeFailure(output: string): string {
  const fatal = /at line (\d+)\s*\n>>> '(.*)'\s*\n(.+)/.exec(output);
  if (fatal) return `redis-server: line ${fatal[1]} (${fatal[2]}): ${fatal[3].trim()}`;
  const lines = output
    .split('\n')
    .map((l) => l.replace(/^\d+:[A-Z] .*?\d\d:\d\d:\d\d\.\d+ [.*#-] /, '').trim())
    .filter(Boolean);
  return `redis-server refused the file: ${lines.slice(-3).join(' / ') || 'exited without output'}`;
}
