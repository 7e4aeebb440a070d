/**
 * Mail as its reader sees it: a display name and a body outside ASCII arrive
 * intact (headers as encoded words, body in a transfer encoding), read back by
 * test/helpers/smtp.ts with postal-mime the way a mail program reads them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { person, STRONG_PASSWORD } from '../helpers/accounts.js';
import { codeOf, TestSmtp } from '../helpers/smtp.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

const NAME = 'Zoë 日本';

describe('mail outside ASCII', () => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    smtp = await TestSmtp.start();
    gw = await startGateway({ SMTP_URL: smtp.url, MAIL_FROM: `${NAME} <no-reply@osmium.test>` });
  });
  after(async () => {
    await gw.close();
    await smtp.close();
  });

  it(`a person named "${NAME}" gets the verification mail from "${NAME}", and the new-device alert names their "${NAME}" device`, async () => {
    const zoe = await person(gw, { tag: 'zoe', name: NAME });
    assert.equal(zoe.name, NAME, 'the name as signed up');
    const verification = await smtp.next(zoe.email);
    assert.deepEqual(verification.from, { name: NAME, address: 'no-reply@osmium.test' });
    assert.doesNotMatch(verification.raw, new RegExp(`^From: ${NAME}`, 'm'), 'on the wire the name is an encoded word, not raw UTF-8');
    await zoe.client.call('auth_verify_email', { email: zoe.email, code: codeOf(verification) });

    // A sign-in from a device the account has not used: the alert quotes the device as the client named it.
    const device = `${NAME} ノート`;
    const laptop = await gw.connect();
    await laptop.call('core_initialize', { client_id: 3, device_type: device, device_version: 'ü 1.0', app_version: '2.0' });
    await laptop.call('auth_sign_in', { email: zoe.email, password: STRONG_PASSWORD });
    const alert = await smtp.next(zoe.email);
    assert.match(alert.subject, /New sign-in/);
    assert.equal(alert.from.name, NAME);
    assert.ok(alert.text.split('\n').includes(`Device: ${device} ü 1.0`), alert.text);
    assert.ok(alert.html.includes(`Device: ${device} ü 1.0`), alert.html);
    assert.ok(!alert.raw.includes(device), 'the body went in a transfer encoding: only a decoder gives it back');
  });
});
