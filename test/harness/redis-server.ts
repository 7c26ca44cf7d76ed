/**
 * Starts real `redis-server` processes on free 127.0.0.1 ports for tests, and always stops them by pid:
 * in `stop()`, and from a process `exit` hook for the case where a test (or the worker) dies first.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const live = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** Asks the kernel for a free loopback port (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A port whose +10000 bus port is also free (Redis Cluster needs both). */
async function freeClusterPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    if (port + 10000 > 65535) continue;
    if (await isFree(port + 10000)) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      let buf = '';
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(300, () => done(false));
      s.once('error', () => done(false));
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH'));
      });
      s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`redis-server on 127.0.0.1:${port} did not answer PING within ${timeoutMs} ms`);
}

export interface RedisServerOptions {
  port?: number;
  /** Extra `redis-server` command line directives, e.g. `['--requirepass', 'x']`. */
  args?: string[];
}

export class RedisServer {
  private child?: ChildProcess;
  readonly dir: string;

  private constructor(
    readonly port: number,
    private readonly args: string[],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `llm-cache-redis-${port}-`));
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), options.args ?? []);
    await server.spawn();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the process is alive (not killed, not exited). */
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async spawn(): Promise<void> {
    installExitHook();
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    if (child.pid) live.add(child.pid);
    child.once('exit', () => child.pid && live.delete(child.pid));
    await waitForPing(this.port, 10_000);
  }

  /** Freezes the process (SIGSTOP): the socket stays open but nothing answers — a hung Redis. */
  pause(): void {
    if (this.child?.pid) process.kill(this.child.pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.child?.pid) process.kill(this.child.pid, 'SIGCONT');
  }

  /** Kills the server hard (SIGKILL) and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(child.pid!, 'SIGCONT');
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      return;
    }
    await exited;
  }

  /** Starts the server again on the same port (after `kill()`). */
  async restart(): Promise<void> {
    await this.kill();
    await this.spawn();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface RedisClusterOptions {
  masters?: number;
  /** Replicas per master (`--cluster-replicas`); 1 gives every master a replica to promote. */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a node may be unreachable before it is considered failing. */
  nodeTimeoutMs?: number;
}

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** For a replica, the id of its master. */
  masterId?: string;
  /** Slot ranges served (masters only), e.g. `[[0, 5460]]`. */
  slots: Array<[number, number]>;
  failed: boolean;
}

/** A real Redis Cluster on loopback (3 masters by default, optionally with replicas), built with `redis-cli --cluster create`. */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(options: RedisClusterOptions | number = {}): Promise<RedisCluster> {
    const {
      masters = 3,
      replicasPerMaster = 0,
      nodeTimeoutMs = 2000,
    } = typeof options === 'number' ? { masters: options } : options;
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
        const port = await freeClusterPort();
        nodes.push(
          await RedisServer.start({
            port,
            args: [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              `nodes-${port}.conf`,
              '--cluster-node-timeout',
              String(nodeTimeoutMs),
              // A replica may always be promoted, however long its link was down (tests kill masters on purpose).
              '--cluster-replica-validity-factor',
              '0',
            ],
          }),
        );
      }
      execFileSync(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          '--cluster-replicas',
          String(replicasPerMaster),
          '--cluster-yes',
        ],
        { stdio: 'pipe', timeout: 30_000 },
      );
      const cluster = new RedisCluster(nodes);
      await cluster.waitUntilOk(20_000, masters * replicasPerMaster);
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw err;
    }
  }

  get startupNodes(): Array<{ host: string; port: number }> {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  node(port: number): RedisServer {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    return node;
  }

  /** `CLUSTER NODES` as seen by one live node (any node if `viaPort` is not given). */
  async topology(viaPort?: number): Promise<ClusterNodeInfo[]> {
    const ports = viaPort ? [viaPort] : this.nodes.map((n) => n.port);
    for (const port of ports) {
      let text: string;
      try {
        text = await redisCli(port, 'cluster', 'nodes');
      } catch {
        continue;
      }
      return text
        .trim()
        .split('\n')
        .map((line) => {
          const [id, addr, flags, masterId, , , , , ...slots] = line.split(' ');
          const isMaster = flags.split(',').includes('master');
          return {
            id,
            port: Number(addr.split('@')[0].split(':')[1]),
            role: isMaster ? 'master' : 'replica',
            masterId: isMaster ? undefined : masterId,
            slots: slots
              .filter((s) => !s.startsWith('['))
              .map((s) => {
                const [a, b] = s.split('-').map(Number);
                return [a, b ?? a] as [number, number];
              }),
            failed: flags.split(',').includes('fail'),
          };
        });
    }
    throw new Error('no cluster node answered CLUSTER NODES');
  }

  /** Waits until every live node reports `cluster_state:ok` (and, if asked, that many replicas are in sync). */
  async waitUntilOk(timeoutMs: number, syncedReplicas = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const live = this.nodes.filter((n) => n.running);
      const states = await Promise.all(
        live.map(async (n) => {
          try {
            return (
              (await redisCli(n.port, 'cluster', 'info')) + (await redisCli(n.port, 'info', 'replication'))
            );
          } catch {
            return '';
          }
        }),
      );
      const synced = states.filter((s) => s.includes('master_link_status:up')).length;
      if (states.every((s) => s.includes('cluster_state:ok')) && synced >= syncedReplicas) return;
      await sleep(100);
    }
    throw new Error('cluster did not reach cluster_state:ok');
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

/**
 * Runs one `redis-cli` command against a loopback port and resolves to its raw output (bounded in time). Async on
 * purpose: failover specs poll the topology while the app under load runs in the same process, and a synchronous
 * spawn would stall its event loop (and the measurements) for the duration of every poll.
 */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    encoding: 'utf8',
    timeout: 5000,
  });
  return stdout;
}

export interface SentinelOptions {
  quorum?: number;
  /** `down-after-milliseconds`: silence after which a sentinel considers the master down. */
  downAfterMs?: number;
  /** `failover-timeout`. */
  failoverTimeoutMs?: number;
}

/** One `redis-server --sentinel` process monitoring `masterName`, stopped by pid (also from the exit hook). */
export class RedisSentinel {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(
    masterName: string,
    masterPort: number,
    options: SentinelOptions = {},
  ): Promise<RedisSentinel> {
    installExitHook();
    const { quorum = 1, downAfterMs = 5000, failoverTimeoutMs = 180_000 } = options;
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `llm-cache-sentinel-${port}-`));
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${quorum}`,
        `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
        `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel', '--loglevel', 'warning'], { stdio: 'ignore' });
    if (child.pid) live.add(child.pid);
    child.once('exit', () => child.pid && live.delete(child.pid));
    const sentinel = new RedisSentinel(port, child, dir);
    try {
      await waitForPing(port, 10_000);
      const deadline = Date.now() + 10_000;
      while ((await sentinel.masterPort(masterName)) !== masterPort) {
        if (Date.now() > deadline) throw new Error(`sentinel on ${port} does not know master ${masterName}`);
        await sleep(100);
      }
    } catch (err) {
      await sentinel.stop();
      throw err;
    }
    return sentinel;
  }

  /** The master's port as this sentinel reports it (`SENTINEL get-master-addr-by-name`), or undefined. */
  async masterPort(masterName: string): Promise<number | undefined> {
    try {
      const out = (await redisCli(this.port, 'sentinel', 'get-master-addr-by-name', masterName))
        .trim()
        .split('\n');
      return out.length >= 2 ? Number(out[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A master, its replicas and `sentinels` sentinels (quorum = majority) on loopback, with fast failover settings. */
export class RedisSentinelGroup {
  private constructor(
    readonly masterName: string,
    readonly servers: RedisServer[],
    readonly sentinels: RedisSentinel[],
  ) {}

  static async start(
    options: SentinelOptions & { masterName?: string; replicas?: number; sentinels?: number } = {},
  ): Promise<RedisSentinelGroup> {
    const { masterName = 'cachemaster', replicas = 1, sentinels: count = 3 } = options;
    const servers: RedisServer[] = [];
    const sentinels: RedisSentinel[] = [];
    try {
      const master = await RedisServer.start();
      servers.push(master);
      for (let i = 0; i < replicas; i++)
        servers.push(await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] }));
      const deadline = Date.now() + 15_000;
      const synced = async () =>
        (await Promise.all(servers.slice(1).map((r) => redisCli(r.port, 'info', 'replication')))).every(
          (info) => info.includes('master_link_status:up'),
        );
      while (!(await synced())) {
        if (Date.now() > deadline) throw new Error('replicas did not sync with the master');
        await sleep(100);
      }
      const quorum = options.quorum ?? Math.floor(count / 2) + 1;
      for (let i = 0; i < count; i++)
        sentinels.push(await RedisSentinel.start(masterName, master.port, { ...options, quorum }));
      return new RedisSentinelGroup(masterName, servers, sentinels);
    } catch (err) {
      await Promise.all([...sentinels, ...servers].map((p) => p.stop()));
      throw err;
    }
  }

  get sentinelNodes(): Array<{ host: string; port: number }> {
    return this.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /** The master's port by a majority of live sentinels, or undefined while they disagree. */
  async masterPort(): Promise<number | undefined> {
    const votes = new Map<number, number>();
    for (const s of this.sentinels) {
      const port = await s.masterPort(this.masterName);
      if (port !== undefined) votes.set(port, (votes.get(port) ?? 0) + 1);
    }
    for (const [port, n] of votes) if (n > this.sentinels.length / 2) return port;
    return undefined;
  }

  server(port: number): RedisServer {
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`no server of the group on port ${port}`);
    return server;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.servers].map((p) => p.stop()));
  }
}
