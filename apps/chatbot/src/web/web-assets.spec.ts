import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebAssets } from './web-assets.js';

class AssetsFrom extends WebAssets {
  constructor(dir: string) {
    super();
    this.files.clear();
    this.load(dir);
  }
}

describe('WebAssets', () => {
  it('loads the built page: index.html, app.js and style.css with their content types', () => {
    const assets = new WebAssets();
    expect(assets.get('index.html')?.contentType).toBe('text/html; charset=utf-8');
    expect(assets.get('app.js')?.contentType).toBe('text/javascript; charset=utf-8');
    expect(assets.get('style.css')?.contentType).toBe('text/css; charset=utf-8');
  });

  it('serves only files of known types, by exact name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'web-assets-'));
    writeFileSync(join(dir, 'page.html'), '<p>hi</p>');
    writeFileSync(join(dir, 'secret.env'), 'KEY=1');
    const assets = new AssetsFrom(dir);
    expect(assets.get('page.html')?.body.toString()).toBe('<p>hi</p>');
    expect(assets.get('secret.env')).toBeUndefined();
    expect(assets.get('../page.html')).toBeUndefined();
  });

  it('starts without the page when its directory is missing (the API still works)', () => {
    const assets = new AssetsFrom(join(tmpdir(), 'no-such-dir-for-web-assets'));
    expect(assets.get('index.html')).toBeUndefined();
  });
});
