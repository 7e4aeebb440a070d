/**
 * The web console in a real browser (headless Debian Chromium driven by
 * playwright-core) against a real gateway: two devices of one account, one
 * revokes the other from the Sessions table and the other is back at the
 * sign-in form at once; a saved session resumes on reload; the Log panel
 * shows every frame decoded; invites are created, looked up and deleted.
 * Every control is found by its accessible name.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommunity } from '../helpers/invites.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { authForm, buildConsole, errorsOf, launchChromium, logPanel, openConsole, sessionRows, signIn, signUp, type Browser } from './browser.js';

const PASSWORD = 'console test password';

describe('web console in a browser', () => {
  let gw: TestGateway;
  let browser: Browser;
  before(async () => {
    await buildConsole();
    // ALLOWED_ORIGINS names some other site: the console, served by the gateway itself, still connects.
    gw = await startGateway({ CONSOLE: 'on', ALLOWED_ORIGINS: 'https://chat.example.com' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('is served at /console with its bundle, and not at all when CONSOLE is off', async () => {
    const http = gw.url.replace(/^ws/, 'http');
    const page = await fetch(`${http}/console`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
    const script = await fetch(`${http}/console/console.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    const client = await fetch(`${http}/console/osmium-client.js`);
    assert.match(await client.text(), /export\{/, 'the client bundle is one ES module');
    assert.equal((await fetch(`${http}/console/..%2f..%2fpackage.json`)).status, 404);
    assert.equal((await fetch(`${http}/console/mail`)).status, 404, 'no outbox mail view in server mode');

    const off = await startGateway({}, { databaseUrl: gw.databaseUrl });
    try {
      assert.notEqual((await fetch(`${off.url.replace(/^ws/, 'http')}/console`)).status, 200, 'server mode: console off by default');
    } finally {
      await off.close();
    }
  });

  it('a device revoked from the Sessions table of another is back at the sign-in form at once', async () => {
    const account = { email: uniqueEmail('console'), password: PASSWORD, name: 'Ada Console' };
    const laptop = await openConsole(browser, gw.url);
    const phone = await openConsole(browser, gw.url);
    await signUp(laptop, account);
    await signIn(phone, account);
    const phoneSession = await phone.locator('#session-id').textContent();

    await laptop.getByRole('button', { name: 'Refresh' }).click();
    await sessionRows(laptop).nth(1).waitFor();
    assert.equal(await sessionRows(laptop).count(), 2);
    const laptopRow = sessionRows(laptop).filter({ hasText: 'this device' });
    assert.equal(await laptopRow.count(), 1, 'exactly one row is this device');
    const phoneRow = sessionRows(laptop).filter({ hasText: `session ${phoneSession}` });
    assert.match((await phoneRow.textContent()) ?? '', /browser · Chrome \d+ on Linux/);
    assert.match((await phoneRow.textContent()) ?? '', /console \d+\.\d+\.\d+/);
    assert.match((await phoneRow.textContent()) ?? '', /just now/);

    // The phone's page must react to the push itself: start waiting before the click.
    const notice = phone.getByRole('alert').filter({ hasText: 'This session was signed out' });
    const backAtSignIn = Promise.all([
      notice.waitFor({ timeout: 1_000 }),
      authForm(phone).getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 1_000 }),
    ]);
    await phoneRow.getByRole('button', { name: 'Revoke' }).click();
    await backAtSignIn;
    assert.equal(await phone.getByRole('table', { name: 'Sessions' }).isVisible(), false);
    const phoneLog = (await logPanel(phone).textContent()) ?? '';
    assert.match(phoneLog, /update session_deleted/);
    assert.match(phoneLog, /closed 4001/);

    await sessionRows(laptop).nth(1).waitFor({ state: 'detached' });
    assert.equal(await sessionRows(laptop).count(), 1, 'the laptop lists only itself');

    // The phone reconnected signed out, and can sign in again.
    await signIn(phone, account);
    assert.notEqual(await phone.locator('#session-id').textContent(), phoneSession, 'a new session');
    assert.deepEqual([...errorsOf(laptop), ...errorsOf(phone)], []);
    await laptop.context().close();
    await phone.context().close();
  });

  it('resumes the saved session after a reload (Initialize, then Authorize with the stored token); Sign out ends it', async () => {
    const page = await openConsole(browser, gw.url);
    await signUp(page, { email: uniqueEmail('reload'), password: PASSWORD, name: 'Reloader' });
    const session = await page.locator('#session-id').textContent();
    await page.reload();
    await page.getByRole('table', { name: 'Sessions' }).waitFor();
    assert.equal(await page.locator('#session-id').textContent(), session);
    const summaries = await logPanel(page).locator('summary').allTextContents();
    assert.match(summaries[0]!, /core_initialize/);
    assert.match(summaries[2]!, /auth_authorize/);

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: /^Signed out\.$/ }).waitFor();
    await authForm(page).waitFor();
    await page.reload();
    await page.getByRole('status').filter({ hasText: 'Connected to' }).waitFor();
    assert.equal(await page.getByRole('table', { name: 'Sessions' }).isVisible(), false, 'the token is gone: nothing to resume');
    await page.context().close();
  });

  it('Sign out everywhere else leaves only this device', async () => {
    const account = { email: uniqueEmail('others'), password: PASSWORD, name: 'Many Devices' };
    const main = await openConsole(browser, gw.url);
    await signUp(main, account);
    const others = await Promise.all([gw.connect(), gw.connect()]);
    for (const other of others) await other.call('auth_sign_in', { email: account.email, password: PASSWORD });
    await main.getByRole('button', { name: 'Refresh' }).click();
    await sessionRows(main).nth(2).waitFor();
    await main.getByRole('button', { name: 'Sign out everywhere else' }).click();
    for (const other of others) assert.equal((await other.closed).code, 4001);
    await sessionRows(main).nth(1).waitFor({ state: 'detached' });
    assert.equal(await sessionRows(main).count(), 1);
    await main.context().close();
  });

  it('the Log panel shows each frame sent and received, decoded to JSON, with its timing', async () => {
    const page = await openConsole(browser, gw.url);
    const email = uniqueEmail('log');
    await signUp(page, { email, password: PASSWORD, name: 'Log Reader' });
    const log = logPanel(page);
    const sent = log.getByRole('listitem').filter({ hasText: 'auth_sign_up' });
    const answered = log.getByRole('listitem').filter({ hasText: /authorization #\d+/ });
    await answered.waitFor();
    const request = JSON.parse((await sent.locator('pre').textContent())!) as { id: number; auth_sign_up: Record<string, string>; message: string };
    assert.equal(request.message, 'auth_sign_up');
    assert.equal(request.auth_sign_up.email, email);
    assert.equal(request.auth_sign_up.name, 'Log Reader');
    assert.equal(request.auth_sign_up.password, '••••••••', 'passwords are masked');
    const result = JSON.parse((await answered.locator('pre').textContent())!) as { result: { req_id: number; authorization: { user: { id: string; name: string }; token: string; session_id: string } } };
    assert.equal(result.result.req_id, request.id);
    assert.equal(result.result.authorization.user.name, 'Log Reader');
    assert.match(result.result.authorization.user.id, /^\d{15,20}$/, 'ids as decimal strings');
    assert.match(result.result.authorization.token, /…$/, 'tokens are shortened');
    assert.match((await answered.locator('summary').textContent())!, /\d+ B · \d+\.\d ms/, 'size and latency');
    // An error result is shown as one, with its code and message.
    await page.getByRole('form', { name: 'Look up invite' }).getByLabel('Look up invite').fill('AAAAAAAAAA');
    await page.getByRole('button', { name: 'Look up', exact: true }).click();
    await log.getByRole('listitem').filter({ hasText: /error 404 #\d+/ }).waitFor();
    await page.context().close();
  });

  it('creates, lists, looks up and deletes an invite; the lookup works signed out', async () => {
    const page = await openConsole(browser, gw.url);
    await signUp(page, { email: uniqueEmail('invites'), password: PASSWORD, name: 'Inviter' });
    const create = page.getByRole('form', { name: 'Create an invite' });
    await create.getByLabel('Max uses').fill('3');
    await create.getByRole('button', { name: 'Create invite' }).click();
    const invites = page.getByRole('table', { name: 'Live invites' });
    const row = invites.getByRole('row').filter({ has: page.getByRole('cell') });
    await row.first().waitFor();
    const code = (await row.first().locator('code').textContent())!;
    assert.match(code, /^[A-Za-z0-9_-]{10}$/);

    const stranger = await openConsole(browser, gw.url);
    const lookup = stranger.getByRole('form', { name: 'Look up invite' });
    await lookup.getByLabel('Look up invite').fill(code);
    await lookup.getByRole('button', { name: 'Look up' }).click();
    const preview = stranger.getByRole('group', { name: 'Invite preview' });
    await preview.waitFor();
    assert.match((await preview.textContent())!, /friend: Inviter/);
    assert.equal(await preview.getByRole('button', { name: 'Join' }).isVisible(), false, 'joining needs a session');

    await row.first().getByRole('button', { name: `Delete invite ${code}` }).click();
    await row.first().waitFor({ state: 'detached' });
    await lookup.getByRole('button', { name: 'Look up' }).click();
    await lookup.getByText('404: ').waitFor();
    await page.context().close();
    await stranger.context().close();
  });

  it('creates a community invite for a community the user is in; another user previews and joins it', async () => {
    const owner = await openConsole(browser, gw.url);
    await signUp(owner, { email: uniqueEmail('owner'), password: PASSWORD, name: 'Community Owner' });
    const ownerId = (await owner.locator('#user-id').textContent())!;
    const community = await createCommunity(gw, ownerId, 'Analytical Society');
    const create = owner.getByRole('form', { name: 'Create an invite' });
    await create.getByLabel('Invite to').selectOption({ label: 'A community (by channel)' });
    await create.getByLabel('Community id').fill(community.communityId);
    await create.getByLabel('Channel id').fill(community.channelId);
    await create.getByLabel('Expires').selectOption({ label: 'In 1 day' });
    await create.getByRole('button', { name: 'Create invite' }).click();
    const row = owner.getByRole('table', { name: 'Live invites' }).getByRole('row').filter({ hasText: 'Analytical Society' });
    await row.waitFor();
    assert.match((await row.textContent())!, /in 1 day/);
    const code = (await row.locator('code').textContent())!;

    const guest = await openConsole(browser, gw.url);
    await signUp(guest, { email: uniqueEmail('joiner'), password: PASSWORD, name: 'Joiner' });
    const lookup = guest.getByRole('form', { name: 'Look up invite' });
    await lookup.getByLabel('Look up invite').fill(code);
    await lookup.getByRole('button', { name: 'Look up' }).click();
    const preview = guest.getByRole('group', { name: 'Invite preview' });
    await preview.waitFor();
    assert.match((await preview.textContent())!, /community “Analytical Society”/);
    await preview.getByRole('button', { name: 'Join' }).click();
    await lookup.getByRole('status').filter({ hasText: 'Joined.' }).waitFor();
    await lookup.getByRole('button', { name: 'Join' }).click();
    await lookup.getByRole('status').filter({ hasText: /^409: / }).waitFor();
    await owner.context().close();
    await guest.context().close();
  });
});
