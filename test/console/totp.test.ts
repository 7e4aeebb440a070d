/**
 * The console's answer to an account with two-factor sign-in (issue 14): the
 * TOTP field appears when the gateway answers `totp required`, says so when
 * the code is wrong, and signs in with the right one. The gateway side of TOTP
 * is not served yet, so the page's socket is answered by a scripted gateway
 * (Playwright's WebSocket routing) that speaks the real protocol bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebSocketRoute } from 'playwright-core';
import { osmium } from '../../src/gen/osmium.js';
import { idToWire } from '../../src/protocol/codec.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';
import { authForm, buildConsole, errorsOf, launchChromium, openConsole, type Browser } from './browser.js';

const { ClientMessage, ServerMessage } = osmium.client.core;
const RIGHT_CODE = '654321';

/** Answers like a gateway whose account has TOTP on; records every sign-in request. */
function scriptedGateway(route: WebSocketRoute, signIns: Array<{ totp?: string | null }>): void {
  let serverId = 0;
  const reply = (message: osmium.client.core.ServerMessage.$Properties) =>
    route.send(Buffer.from(ServerMessage.encode({ id: ++serverId, ...message }).finish()));
  route.onMessage((data) => {
    if (typeof data === 'string') return;
    const request = ClientMessage.decode(data);
    const req_id = request.id;
    if (request.core_initialize) reply({ result: { req_id, initialized: { entrypoints: { entrypoints: [] } } } });
    else if (request.auth_sign_in) {
      signIns.push({ totp: request.auth_sign_in.totp });
      const totp = request.auth_sign_in.totp;
      if (!totp) reply({ result: { req_id, error: { error_code: 401, error_message: 'totp required' } } });
      else if (totp !== RIGHT_CODE) reply({ result: { req_id, error: { error_code: 401, error_message: 'invalid totp' } } });
      else {
        reply({
          result: {
            req_id,
            authorization: { token: 'scripted.token.value', user: { id: idToWire('1001'), name: 'Two Factor' }, session_id: idToWire('2002') },
          },
        });
      }
    } else if (request.auth_get_sessions) {
      reply({ result: { req_id, sessions: { current: idToWire('2002'), sessions: [{ id: idToWire('2002'), device_type: 'browser', last_active: idToWire(Date.now()) }] } } });
    } else if (request.chats_list_chat_invites) reply({ result: { req_id, invite_list: { invites: [] } } });
  });
}

describe('console sign-in with TOTP', () => {
  let gw: TestGateway;
  let browser: Browser;
  before(async () => {
    await buildConsole();
    gw = await startGateway({ CONSOLE: 'on' }); // serves the page; its socket goes to the scripted gateway
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('shows the TOTP field on `totp required`, reports a wrong code, signs in with the right one', async () => {
    const context = await browser.newContext();
    const signIns: Array<{ totp?: string | null }> = [];
    await context.routeWebSocket(/.*/, (route) => scriptedGateway(route, signIns));
    const page = await openConsole(browser, gw.url, context);
    const form = authForm(page);
    const totpField = form.getByLabel('TOTP code');
    assert.equal(await totpField.isVisible(), false, 'no TOTP field before the gateway asks');

    await form.getByLabel('Email').fill('two.factor@example.test');
    await form.getByLabel('Password', { exact: true }).fill('a good long password');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await totpField.waitFor();
    assert.equal(await totpField.evaluate((el) => el === document.activeElement), true, 'the TOTP field takes the focus');
    assert.match((await form.getByRole('status').textContent())!, /authenticator app/);

    await totpField.fill('111111');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await form.getByRole('status').filter({ hasText: 'wrong' }).waitFor();

    await totpField.fill(RIGHT_CODE);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('table', { name: 'Sessions' }).waitFor();
    assert.equal(await page.locator('#user-name').textContent(), 'Two Factor');
    assert.deepEqual(signIns.map((s) => s.totp ?? null), [null, '111111', RIGHT_CODE]);
    assert.deepEqual(errorsOf(page), []);
    await context.close();
  });
});
