#!/usr/bin/env node
/**
 * Takes the README's screenshots of the web console: starts a gateway as
 * `npm start` does with nothing set (embedded Postgres in a temporary
 * DATA_DIR), signs one account in from a laptop and a phone in headless
 * Chromium, and writes docs/console-sessions.png (the laptop's devices page)
 * and docs/console-revoked.png (the phone after the laptop revoked it).
 *   node scripts/consoleScreenshots.mjs
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBrowser } from './buildBrowser.mjs';
import { launchChromium } from './chromium.mjs';
import { defineCommand } from './commandLine.mjs';

defineCommand({ usage: 'node scripts/consoleScreenshots.mjs', options: {} }).parseOrExit();

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PHONE_UA =
  'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36';

await buildBrowser();
const work = mkdtempSync(join(tmpdir(), 'osmium-screenshots-'));
chmodSync(work, 0o755); // as root the embedded Postgres runs as the user postgres, who must enter it
const gateway = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: root,
  env: {
    ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: join(work, 'data'), PORT: '0', HOST: '127.0.0.1',
    NODE_ENV: 'production', BCRYPT_COST: '4',
    // Geo from headers the demo browsers send, as a proxy such as Cloudflare would set them.
    GEO_COUNTRY_HEADER: 'x-demo-country', GEO_REGION_HEADER: 'x-demo-region',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let browser;
try {
  const port = await new Promise((resolve, reject) => {
    let buffer = '';
    gateway.stdout.on('data', (chunk) => {
      buffer += chunk;
      const match = /"port":(\d+).*"msg":"gateway listening"/.exec(buffer);
      if (match) resolve(Number(match[1]));
    });
    gateway.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}/console`;
  browser = await launchChromium();
  const open = async (options) => {
    const page = await (await browser.newContext({ deviceScaleFactor: 1, ...options })).newPage();
    await page.goto(url);
    await page.getByRole('status').filter({ hasText: 'Connected to' }).waitFor();
    return page;
  };
  const account = { email: 'ada@example.com', password: 'analytical engine 1843', name: 'Ada Lovelace' };
  const laptop = await open({ viewport: { width: 1280, height: 860 }, extraHTTPHeaders: { 'x-demo-country': 'GB', 'x-demo-region': 'London' } });
  const phone = await open({ viewport: { width: 1280, height: 860 }, userAgent: PHONE_UA, extraHTTPHeaders: { 'x-demo-country': 'FR', 'x-demo-region': 'Paris' } });

  const form = (page) => page.getByRole('form', { name: 'Sign in or sign up' });
  await form(laptop).getByLabel('Email').fill(account.email);
  await form(laptop).getByLabel('Password').fill(account.password);
  await form(laptop).getByLabel('Name').fill(account.name);
  await form(laptop).getByRole('button', { name: 'Sign up' }).click();
  await laptop.getByRole('table', { name: 'Sessions' }).waitFor();
  await form(phone).getByLabel('Email').fill(account.email);
  await form(phone).getByLabel('Password').fill(account.password);
  await form(phone).getByRole('button', { name: 'Sign in' }).click();
  await phone.getByRole('table', { name: 'Sessions' }).waitFor();
  await laptop.getByRole('button', { name: 'Refresh' }).click();
  const rows = laptop.getByRole('table', { name: 'Sessions' }).getByRole('row');
  await rows.nth(2).waitFor();
  await laptop.screenshot({ path: join(root, 'docs', 'console-sessions.png') });

  await rows.filter({ hasText: 'Android' }).getByRole('button', { name: 'Revoke' }).click();
  await phone.getByRole('alert').waitFor();
  await phone.screenshot({ path: join(root, 'docs', 'console-revoked.png') });
  console.log('wrote docs/console-sessions.png and docs/console-revoked.png');
} finally {
  await browser?.close();
  gateway.kill('SIGTERM');
  await new Promise((resolve) => gateway.once('exit', resolve));
  rmSync(work, { recursive: true, force: true });
}
