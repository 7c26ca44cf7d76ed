import { spawn, type ChildProcess } from 'node:child_process';
import { timedRequest } from './http.js';
import { setTimeout as sleep } from 'node:timers/promises';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Spawns a Node script on the same Node binary, with its output prefixed into ours on failure only. */
export function spawnNode(script: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (code && code !== 0) process.stderr.write(`\n[${script} exited ${code ?? signal}]\n${log}\n`);
  });
  (child as ChildProcess & { logTail: () => string }).logTail = () => log;
  children.add(child);
  return child;
}

/** Polls `GET path` on 127.0.0.1:port until it answers 2xx, bounded by `timeoutMs`. */
export async function waitForHttp(port: number, path: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await timedRequest({ port, path, method: 'GET' }, 1000);
      if (res.status < 300) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error(`nothing answered on 127.0.0.1:${port}${path} within ${timeoutMs} ms`);
}

export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
