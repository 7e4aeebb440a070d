/**
 * Single-instance mode as a newcomer runs it (`npm start`, nothing set): the
 * console is on, and without SMTP it shows the newest outbox mail of the
 * signed-in address, so sign-up → read the code → verify works in the browser
 * alone. The view needs the session's token and shows only that user's mail.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OsmiumClient } from '../../src/client/client.js';
import { person } from '../helpers/accounts.js';
import { spawnGateway, uniqueEmail, type SpawnedGateway } from '../helpers/stack.js';
import { buildConsole, errorsOf, launchChromium, openConsole, signUp, type Browser } from './browser.js';

describe('console in single-instance mode: newest outbox mail', () => {
  let root: string;
  let gw: SpawnedGateway;
  let browser: Browser;
  before(async () => {
    await buildConsole();
    root = mkdtempSync(join(process.env.TEST_STACK_DIR ?? tmpdir(), 'console-embedded-'));
    chmodSync(root, 0o755); // as root, the embedded Postgres runs as the user postgres, who must enter it
    // No CONSOLE and no SMTP_URL: the defaults of `npm start` without settings (no NODE_ENV, loopback HOST).
    gw = await spawnGateway({ NODE_ENV: '', DATABASE_URL: '', REDIS_URL: '', DATA_DIR: join(root, 'data'), MAIL_OUTBOX_DIR: join(root, 'outbox') });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('signs up, shows the mailed code, and verifies the address with it', async () => {
    const page = await openConsole(browser, gw.url);
    const email = uniqueEmail('devmail');
    await signUp(page, { email, password: 'dev mail password', name: 'Dev Mail' });
    // Someone else's mail arrives later: the view must still pick this user's.
    const other = await OsmiumClient.connect(gw.url);
    await person(gw, { client: other, email: uniqueEmail('other'), password: 'other password', name: 'Other' });
    await other.close();

    const mailView = page.getByRole('region', { name: 'Development mail' });
    await mailView.getByRole('button', { name: 'Show newest mail' }).click();
    const mail = page.getByRole('article', { name: 'Newest mail' });
    await mail.waitFor();
    const code = /^(\d{6})$/m.exec((await mail.locator('pre').textContent())!)?.[1];
    assert.ok(code, 'the mail shows the code on its own line');
    assert.match((await mail.textContent())!, new RegExp(`${code} is your Osmium verification code`));

    const verify = page.getByRole('form', { name: 'Verify email' });
    assert.equal(await verify.getByLabel('Email').inputValue(), email, 'prefilled with the signed-in address');
    await verify.getByLabel('Code', { exact: true }).fill(code);
    await verify.getByRole('button', { name: 'Verify email' }).click();
    await verify.getByRole('status').filter({ hasText: `${email} is verified.` }).waitFor();
    assert.deepEqual(errorsOf(page), []);
    await page.context().close();
  });

  it('answers the mail view only with a live session token', async () => {
    const http = gw.url.replace(/^ws/, 'http');
    assert.equal((await fetch(`${http}/console/mail`)).status, 401);
    assert.equal((await fetch(`${http}/console/mail`, { headers: { authorization: 'Bearer forged.token.here' } })).status, 401);
    const settings = (await (await fetch(`${http}/console/settings.json`)).json()) as { mail: boolean };
    assert.equal(settings.mail, true);
  });
});
