/**
 * Debian's Chromium for the browser tests and screenshots, driven by
 * playwright-core (Playwright's own browser download cannot run here).
 * Installs the `chromium` package with apt-get when it is missing and this
 * runs as root on Debian, as scripts/stack.mjs does for redis-server.
 *
 *   const browser = await launchChromium();   // playwright-core Browser, headless
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Returns the Chromium executable, installing Debian's package first when it is missing. */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: install it (apt-get install chromium) or run as root`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  console.log('installing chromium with apt-get (once per machine)');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is not there`);
  return CHROMIUM;
}

/**
 * Launches headless Chromium. Playwright gives every launch a fresh profile
 * (its own temporary --user-data-dir, removed on close). The flags keep
 * Chromium from calling home (updates, sync, field trials) and from QUIC, so
 * tests see only their own traffic; as root Chromium needs --no-sandbox.
 */
export async function launchChromium() {
  const executablePath = ensureChromium();
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath,
    headless: true,
    chromiumSandbox: process.getuid?.() !== 0,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
