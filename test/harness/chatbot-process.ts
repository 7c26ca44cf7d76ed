/**
 * The built chatbot as operators run it (`node dist/apps/chatbot/main.js`) in a child process with a clean
 * environment: for what only a real process shows (exit codes, signals, OpenTelemetry's module patching).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './redis-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = resolve(ROOT, 'dist/apps/chatbot/main.js');

export interface ChatbotProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

/** `npm run build` for the chatbot and the libs it references (incremental: cheap when nothing changed). */
export function buildChatbot(): void {
  execFileSync(
    process.execPath,
    [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'apps/chatbot/tsconfig.app.json'],
    { cwd: ROOT, stdio: 'pipe', timeout: 120_000 },
  );
}

/** Starts main.js with only PATH/HOME from this process plus `env`; resolves once it printed its URL. */
export async function startChatbotProcess(
  env: Record<string, string>,
  { expectListening = true, startTimeoutMs = 20_000 } = {},
): Promise<ChatbotProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(port),
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      done({ code, signal });
    }),
  );
  if (expectListening) {
    const deadline = Date.now() + startTimeoutMs;
    while (!output.includes('listening on') && proc.exitCode === null && Date.now() < deadline)
      await sleep(50);
    if (!output.includes('listening on')) throw new Error(`main.js did not start:\n${output}`);
  }
  return { proc, url: `http://127.0.0.1:${port}`, port, output: () => output, exited };
}

/** SIGKILLs every child still running (for afterAll). */
export function killChatbotProcesses(): void {
  for (const proc of children) proc.kill('SIGKILL');
}
