/**
 * The chatbot's production dependency tree (and so its Docker image) holds neither dockerode nor the `node` npm
 * package: scripts/check-prod-deps.sh, run against this workspace's real tree, and against that tree with each
 * offender added back, so the check is shown to catch it.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

async function check(stdin?: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('bash', ['scripts/check-prod-deps.sh', ...(stdin === undefined ? [] : ['-'])], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin.end(stdin ?? '');
  const code = await new Promise<number | null>((r) => child.once('close', r));
  return { code, output };
}

describe('chatbot production dependencies', () => {
  it('contain neither dockerode nor node', async () => {
    const { code, output } = await check();
    expect(output).toContain('no dockerode, no node');
    expect(code).toBe(0);
  }, 60_000);

  it.each(['dockerode', 'node', '@llm-cache/infra-docker'])(
    'fail the check when %s comes back',
    async (name) => {
      const { stdout } = await run(
        'npm',
        ['ls', '--omit=dev', '--workspace', '@llm-cache/chatbot', '--all', '--parseable'],
        {
          cwd: ROOT,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      const { code, output } = await check(`${stdout.trim()}\n${ROOT}/node_modules/${name}\n`);
      expect(code).toBe(1);
      expect(output).toContain(`'${name}' is in the chatbot's production tree`);
    },
    60_000,
  );
});
