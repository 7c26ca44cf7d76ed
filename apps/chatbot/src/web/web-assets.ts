import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Injectable, Logger } from '@nestjs/common';

/**
 * The page's files: `public/` beside this module, i.e. `apps/chatbot/src/web/public` when run from source (tests) and
 * `dist/apps/chatbot/web/public` after `npm run build` (which copies it there; tsc copies no assets).
 */
export const WEB_PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export interface WebAsset {
  body: Buffer;
  contentType: string;
}

/**
 * The page's files, read once at start-up (a few kB): serving them is a map lookup, the file system is never
 * reached with a name from a request, and no path can escape the directory.
 */
@Injectable()
export class WebAssets {
  protected readonly logger = new Logger('WebAssets');
  protected readonly files = new Map<string, WebAsset>();

  constructor() {
    this.load(WEB_PUBLIC_DIR);
  }

  get(name: string): WebAsset | undefined {
    return this.files.get(name);
  }

  protected load(dir: string): void {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      // The API works without the page: say why `/` is missing instead of failing start-up.
      this.logger.warn(`web page not served: ${(err as Error).message} (run \`npm run build\`)`);
      return;
    }
    for (const name of names) {
      const contentType = CONTENT_TYPES[extname(name)];
      if (contentType) this.files.set(name, { body: readFileSync(join(dir, name)), contentType });
    }
  }
}
