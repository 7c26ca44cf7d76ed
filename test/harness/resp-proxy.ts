/**
 * A TCP proxy in front of a real redis-server that understands just enough RESP to tell commands and replies apart:
 * it records every command a client sends (with the socket write it arrived in) and can hold back the replies from
 * a chosen command on (in order, like a slow server would), while the commands themselves go through at once. Lets
 * a spec observe "the command was on the wire" separately from "the command was answered".
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface ProxiedCommand {
  /** Upper-case command name and its arguments as text. */
  args: string[];
  /** Position in `commands`. */
  seq: number;
  /** Which client→server socket chunk (counted per proxy) carried it: one chunk is one round trip's write. */
  chunk: number;
  atMs: number;
}

interface Link {
  client: Socket;
  server: Socket;
  /** Commands not answered yet, oldest first. */
  unanswered: ProxiedCommand[];
  /** Reply bytes held back because an earlier reply is held. */
  held: Buffer[];
  holding: boolean;
  replyBuffer: Buffer;
  commandBuffer: Buffer;
}

export class RespProxy {
  readonly commands: ProxiedCommand[] = [];
  private chunks = 0;
  private readonly links = new Set<Link>();
  private holdWhen?: (command: ProxiedCommand) => boolean;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<RespProxy> {
    const links: { proxy?: RespProxy } = {};
    const server = createServer((client) => links.proxy!.accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    links.proxy = new RespProxy(server, (server.address() as { port: number }).port);
    return links.proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * The reply to the first command sent from now on that matches `when`, and every reply after it on that
   * connection, waits for `release()`.
   */
  holdRepliesFrom(when: (command: ProxiedCommand) => boolean): void {
    const from = this.commands.length;
    this.holdWhen = (command) => command.seq >= from && when(command);
  }

  /** Forwards every held reply and stops holding. */
  release(): void {
    this.holdWhen = undefined;
    for (const link of this.links) {
      link.holding = false;
      for (const chunk of link.held.splice(0)) link.client.write(chunk);
    }
  }

  async stop(): Promise<void> {
    this.release();
    for (const link of this.links) {
      link.client.destroy();
      link.server.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    const server = connect(targetPort, '127.0.0.1');
    const link: Link = {
      client,
      server,
      unanswered: [],
      held: [],
      holding: false,
      replyBuffer: Buffer.alloc(0),
      commandBuffer: Buffer.alloc(0),
    };
    this.links.add(link);
    const close = () => {
      this.links.delete(link);
      client.destroy();
      server.destroy();
    };
    client.on('error', close).on('close', close);
    server.on('error', close).on('close', close);
    client.on('data', (data: Buffer) => {
      const chunk = ++this.chunks;
      link.commandBuffer = Buffer.concat([link.commandBuffer, data]);
      for (;;) {
        const parsed = parseValue(link.commandBuffer, 0);
        if (!parsed) break;
        link.commandBuffer = link.commandBuffer.subarray(parsed.end);
        const args = (parsed.value as Buffer[]).map((b) => b.toString('utf8'));
        args[0] = args[0].toUpperCase();
        const command = { args, seq: this.commands.length, chunk, atMs: performance.now() };
        this.commands.push(command);
        link.unanswered.push(command);
      }
      server.write(data);
    });
    server.on('data', (data: Buffer) => {
      // Split the bytes at reply boundaries so holding can start exactly at the chosen command's reply.
      link.replyBuffer = Buffer.concat([link.replyBuffer, data]);
      let offset = 0;
      for (;;) {
        const parsed = parseValue(link.replyBuffer, offset);
        if (!parsed) break;
        const command = link.unanswered.shift();
        if (!link.holding && command && this.holdWhen?.(command)) link.holding = true;
        const bytes = link.replyBuffer.subarray(offset, parsed.end);
        if (link.holding) link.held.push(Buffer.from(bytes));
        else client.write(bytes);
        offset = parsed.end;
      }
      link.replyBuffer = link.replyBuffer.subarray(offset);
    });
  }
}

/** One RESP2 value starting at `offset`, or undefined when the buffer does not hold all of it yet. */
function parseValue(buf: Buffer, offset: number): { value: unknown; end: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  if (type === '+' || type === '-' || type === ':') return { value: line, end: lineEnd + 2 };
  if (type === '$') {
    const len = Number(line);
    if (len < 0) return { value: null, end: lineEnd + 2 };
    if (buf.length < lineEnd + 2 + len + 2) return undefined;
    return { value: buf.subarray(lineEnd + 2, lineEnd + 2 + len), end: lineEnd + 2 + len + 2 };
  }
  if (type === '*') {
    const count = Number(line);
    const items: unknown[] = [];
    let end = lineEnd + 2;
    for (let i = 0; i < count; i++) {
      const item = parseValue(buf, end);
      if (!item) return undefined;
      items.push(item.value);
      end = item.end;
    }
    return { value: count < 0 ? null : items, end };
  }
  throw new Error(`RespProxy: unexpected RESP type ${JSON.stringify(type)}`);
}
