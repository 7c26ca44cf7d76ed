/**
 * Builds a Redis image for the Docker tests without any registry: `FROM scratch` holding this machine's
 * `redis-server`, `redis-cli` and the shared libraries `ldd` lists for them. Built once per engine and reused.
 *
 * Containers from it must run with `--network host` here (the engine runs with `--bridge=none`), so tests give
 * every container its own free 127.0.0.1 port.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import Docker from 'dockerode';

export const REDIS_TEST_IMAGE = 'llm-cache/redis-test:7';

const BINARIES: Array<{ from: string; to: string }> = [
  // Debian's redis-server is a symlink to redis-check-rdb; the binary picks its role from argv[0], so the copy
  // must be *named* redis-server.
  { from: '/usr/bin/redis-server', to: 'usr/bin/redis-server' },
  { from: '/usr/bin/redis-cli', to: 'usr/bin/redis-cli' },
];

const DOCKERFILE = `FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
LABEL llm-cache.test-image="redis"
CMD ["redis-server"]
`;

/** Returns the image reference, building it first when the engine does not have it yet. */
export async function ensureRedisTestImage(docker: Docker = new Docker()): Promise<string> {
  if (await hasImage(docker, REDIS_TEST_IMAGE)) return REDIS_TEST_IMAGE;
  const context = buildContextTar();
  const stream = await docker.buildImage(Readable.from([context]), {
    t: REDIS_TEST_IMAGE,
    rm: true,
    forcerm: true,
  });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        const failed = events?.find((e) => e.error || e.errorDetail);
        if (err) reject(err);
        else if (failed)
          reject(
            new Error(`building ${REDIS_TEST_IMAGE} failed: ${failed.error ?? failed.errorDetail?.message}`),
          );
        else resolve();
      },
    );
  });
  if (!(await hasImage(docker, REDIS_TEST_IMAGE)))
    throw new Error(`building ${REDIS_TEST_IMAGE} produced no image`);
  return REDIS_TEST_IMAGE;
}

async function hasImage(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** Paths of the shared libraries (and the dynamic loader) a binary needs, as `ldd` reports them. */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8', timeout: 10_000 });
  const paths = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) paths.add(m[1]);
  }
  return [...paths];
}

function buildContextTar(): Buffer {
  const tar = new TarWriter();
  tar.file('Dockerfile', Buffer.from(DOCKERFILE), 0o644);
  const libs = new Set<string>();
  for (const { from, to } of BINARIES) {
    tar.file(`rootfs/${to}`, readFileSync(realpathSync(from)), 0o755);
    for (const lib of sharedLibraries(from)) libs.add(lib);
  }
  // Libraries go where ldd found them (e.g. /lib/x86_64-linux-gnu, /lib64/ld-linux-x86-64.so.2): the loader path
  // is baked into the ELF header and the default search path covers the rest; the content is the symlink target.
  for (const lib of libs) {
    const real = realpathSync(lib);
    tar.file(`rootfs${lib}`, readFileSync(real), statSync(real).mode & 0o777);
  }
  tar.dir('rootfs/data');
  tar.dir('rootfs/tmp', 0o1777);
  return tar.finish();
}

/** Just enough of ustar for a build context: regular files and directories, names under 100 bytes. */
class TarWriter {
  private readonly chunks: Buffer[] = [];
  private readonly dirs = new Set<string>();

  file(name: string, content: Buffer, mode: number): void {
    this.parents(name);
    this.chunks.push(
      header(name, content.length, mode, '0'),
      content,
      Buffer.alloc((512 - (content.length % 512)) % 512),
    );
  }

  dir(name: string, mode = 0o755): void {
    this.parents(name);
    if (this.dirs.has(name)) return;
    this.dirs.add(name);
    this.chunks.push(header(`${name}/`, 0, mode, '5'));
  }

  finish(): Buffer {
    return Buffer.concat([...this.chunks, Buffer.alloc(1024)]);
  }

  private parents(name: string): void {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) this.dir(parts.slice(0, i).join('/'));
  }
}

function header(name: string, size: number, mode: number, type: '0' | '5'): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  const h = Buffer.alloc(512);
  const octal = (value: number, offset: number, length: number) =>
    h.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'ascii');
  h.write(name, 0, 100, 'utf8');
  octal(mode, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(Math.floor(Date.now() / 1000), 136, 12);
  h.write('        ', 148, 8, 'ascii');
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}
