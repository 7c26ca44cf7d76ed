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

/**
 * How an image starts Redis, the three layouts found in the wild: no ENTRYPOINT and `CMD ["redis-server"]` (the
 * default test image), `ENTRYPOINT ["redis-server"]`, and a wrapper script like the official image's
 * `docker-entrypoint.sh` (this one also appends `--hz 17`, so a test can see that the wrapper really ran).
 */
export type RedisImageLayout = 'cmd' | 'entrypoint' | 'wrapper';

const IMAGE_TAGS: Record<RedisImageLayout, string> = {
  cmd: REDIS_TEST_IMAGE,
  entrypoint: 'llm-cache/redis-test:7-entrypoint',
  wrapper: 'llm-cache/redis-test:7-wrapper',
};

const WRAPPER_SCRIPT = `#!/bin/sh
set -e
# As the official image's docker-entrypoint.sh: a flag or a .conf file as first argument gets redis-server first.
if [ "\${1#-}" != "$1" ] || [ "\${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  set -- "$@" --hz 17
fi
exec "$@"
`;

const BINARIES: Array<{ from: string; to: string }> = [
  // Debian's redis-server is a symlink to redis-check-rdb; the binary picks its role from argv[0], so the copy
  // must be *named* redis-server.
  { from: '/usr/bin/redis-server', to: 'usr/bin/redis-server' },
  { from: '/usr/bin/redis-cli', to: 'usr/bin/redis-cli' },
];

const START: Record<RedisImageLayout, string> = {
  cmd: 'CMD ["redis-server"]',
  entrypoint: 'ENTRYPOINT ["redis-server"]',
  wrapper: 'ENTRYPOINT ["docker-entrypoint.sh"]\nCMD ["redis-server"]',
};

const dockerfile = (layout: RedisImageLayout) => `FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
LABEL llm-cache.test-image="redis"
${START[layout]}
`;

/** Returns the image reference, building it first when the engine does not have it yet. */
export async function ensureRedisTestImage(
  docker: Docker = new Docker(),
  layout: RedisImageLayout = 'cmd',
): Promise<string> {
  const tag = IMAGE_TAGS[layout];
  if (await hasImage(docker, tag)) return tag;
  const context = buildContextTar(layout);
  const stream = await docker.buildImage(Readable.from([context]), {
    t: tag,
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
          reject(new Error(`building ${tag} failed: ${failed.error ?? failed.errorDetail?.message}`));
        else resolve();
      },
    );
  });
  if (!(await hasImage(docker, tag))) throw new Error(`building ${tag} produced no image`);
  return tag;
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

function buildContextTar(layout: RedisImageLayout): Buffer {
  const tar = new TarWriter();
  tar.file('Dockerfile', Buffer.from(dockerfile(layout)), 0o644);
  const libs = new Set<string>();
  // The wrapper needs a shell: Debian's /bin/sh is dash.
  const binaries = layout === 'wrapper' ? [...BINARIES, { from: '/bin/sh', to: 'bin/sh' }] : BINARIES;
  if (layout === 'wrapper')
    tar.file('rootfs/usr/local/bin/docker-entrypoint.sh', Buffer.from(WRAPPER_SCRIPT), 0o755);
  for (const { from, to } of binaries) {
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
