/**
 * Headless Chromium for the page's e2e specs: Debian's `chromium` package driven by `playwright-core` (no browser
 * download; `scripts/ensure-system.sh` installs the package). Everything stays on loopback.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: run scripts/ensure-system.sh (apt package "chromium")`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Screenshots are written only when asked (UPDATE_SCREENSHOT=1), so a test run never dirties the tree. */
export const UPDATE_SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1';
