import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DockerEngine, demultiplex, errorText } from './docker-engine.js';
import { DockerEngineUnreachableError } from './infra-docker.errors.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('DockerEngine', () => {
  let dir: string;
  let silent: Server;
  const held = new Set<Socket>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llm-cache-engine-'));
    // Accepts connections and never answers: an engine that hangs.
    silent = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(join(dir, 'silent.sock'), resolve));
  });

  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a missing socket as an unreachable engine, naming the address and what to do', async () => {
    const engine = new DockerEngine({ docker: { socketPath: join(dir, 'absent.sock') } });
    const error = await engine.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerEngineUnreachableError);
    expect((error as DockerEngineUnreachableError).code).toBe('ENGINE_UNREACHABLE');
    expect((error as Error).message).toMatch(
      /Cannot reach the Docker engine at unix:\/\/.*absent\.sock: connect ENOENT .*is dockerd running\?/,
    );
  });

  it('gives up on an engine that does not answer within engineTimeoutMs', async () => {
    const engine = new DockerEngine({
      docker: { socketPath: join(dir, 'silent.sock'), engineTimeoutMs: 300 },
    });
    const started = Date.now();
    const error = await engine.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerEngineUnreachableError);
    expect((error as Error).message).toMatch(/no answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('describes where the engine is', () => {
    expect(new DockerEngine({ docker: { socketPath: '/run/x.sock' } }).address).toBe('unix:///run/x.sock');
    const tcp = new DockerEngine({ docker: { host: 'docker.internal', port: 2375 } });
    expect(tcp.address).toBe('http://docker.internal:2375');
    expect(tcp.isLocal).toBe(false);
  });

  it('demultiplexes non-TTY logs (8-byte frame headers) and leaves TTY output alone', () => {
    expect(demultiplex(Buffer.concat([frame(1, 'Ready\n'), frame(2, 'oops\n')]))).toBe('Ready\noops\n');
    expect(demultiplex(Buffer.from('plain tty output\n'))).toBe('plain tty output\n');
  });

  it("uses the engine's own message for errors", () => {
    const err = Object.assign(new Error('(HTTP code 500) server error - ...'), {
      json: { message: 'port is already allocated' },
    });
    expect(errorText(err)).toBe('port is already allocated');
    expect(errorText(new Error('plain'))).toBe('plain');
  });
});
