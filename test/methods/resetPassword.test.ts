/**
 * Password reset over real SMTP: request (same answer for unknown addresses),
 * confirm (wrong code keeps the password, right code swaps it and revokes
 * every session, live sockets included), dead codes, the hourly cap.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { OsmiumClient, RpcResult } from '../../src/client/client.js';
import { idFromWire } from '../../src/protocol/codec.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { CODE_REFUSED } from '../../src/services/accountEmail.js';
import { person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { codeOf, isEmptyResult, TestSmtp } from '../helpers/smtp.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError, code } from '../helpers/results.js';

/** Where the owners of these tests' accounts sign up from; the resets come from another address (a stranger's). */
const OWNER_ADDRESS = '198.51.100.1';
const OLD = 'old password 1';
const NEW = 'brand new password 2';

describe('password reset', () => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    smtp = await TestSmtp.start();
    gw = await startGateway({ SMTP_URL: smtp.url, CLIENT_IP_HEADER: 'x-forwarded-for' });
  });
  after(async () => {
    await gw.close();
    await smtp.close();
  });

  /** The owner's sign-up comes from the owner's own address (the other sockets of these tests come from another one). */
  const fromOwner = { headers: { 'x-forwarded-for': OWNER_ADDRESS } };

  async function signInCode(email: string, password: string): Promise<number> {
    const client = await gw.connect();
    const r = await client.request('auth_sign_in', { email, password });
    await client.close();
    return code(r);
  }

  async function requestCode(email: string): Promise<string> {
    const client = await gw.connect();
    await client.call('auth_reset_password', { email });
    await client.close();
    const mail = await smtp.next(email);
    return codeOf(mail);
  }

  const other = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it('mails a reset code to an existing account; an unknown address gets the same answer and no mail', async () => {
    const known = uniqueEmail('known');
    await person(gw, { email: known, password: OLD, name: 'Grace', ...fromOwner });
    await smtp.next(known); // the verification mail, out of the way
    const unknown = uniqueEmail('unknown');
    const client = await gw.connect();
    const forUnknown = await client.request('auth_reset_password', { email: unknown });
    const forKnown = await client.request('auth_reset_password', { email: known });
    assert.ok(isEmptyResult(forUnknown) && isEmptyResult(forKnown), 'both answer ()');
    assert.deepEqual({ ...forUnknown, req_id: 0 }, { ...forKnown, req_id: 0 }, 'same answer');

    const mail = await smtp.next(known); // queued after the unknown one would have been
    const code = codeOf(mail);
    assert.match(mail.subject, new RegExp(`\\b${code}\\b`));
    assert.match(mail.text, /valid for 15 minutes/);
    assert.equal(smtp.mailsTo(unknown).length, 0);
  });

  it('a wrong code keeps the old password', async () => {
    const email = uniqueEmail('wrongreset');
    await person(gw, { email, password: OLD, name: 'Grace', ...fromOwner });
    await smtp.next(email); // the verification mail, out of the way
    const code = await requestCode(email);
    const client = await gw.connect();
    const r = await client.request('auth_reset_password', { email, confirm: { code: other(code), new_password: NEW } });
    assertRpcError(r, ErrorCode.BAD_REQUEST);
    assert.equal(r.error?.error_message, CODE_REFUSED);
    assert.equal(await signInCode(email, OLD), 0);
    assert.equal(await signInCode(email, NEW), ErrorCode.UNAUTHENTICATED);
  });

  it('the right code sets the new password, verifies the address and revokes every old session, live sockets included', async () => {
    const email = uniqueEmail('reset');
    const { client: live, authorization: auth } = await person(gw, { email, password: OLD, name: 'Grace', ...fromOwner });
    await smtp.next(email); // the verification mail, out of the way
    const second = await gw.connect();
    const other = await second.call('auth_sign_in', { email, password: OLD });
    assert.equal((await gw.app.repos.users.byEmail(email))!.emailVerified, false);

    const code = await requestCode(email);
    const resetter = await gw.connect();
    const r = await resetter.call('auth_reset_password', { email, confirm: { code, new_password: NEW } });
    assert.ok(isEmptyResult(r));

    const update = await live.nextUpdate();
    assert.equal(idFromWire(update.session_deleted?.session_id), idFromWire(auth.session_id));
    assert.equal((await live.closed).code, CloseCode.SESSION_REVOKED);
    assert.equal((await second.closed).code, CloseCode.SESSION_REVOKED);

    for (const token of [auth.token!, other.authorization!.token!]) {
      const c = await gw.connect();
      const again = await c.request('auth_authorize', { token });
      assertRpcError(again, ErrorCode.FORBIDDEN, undefined, 'old tokens no longer resume');
    }
    assert.equal(await signInCode(email, NEW), 0);
    assert.equal(await signInCode(email, OLD), ErrorCode.UNAUTHENTICATED);
    assert.equal((await gw.app.repos.users.byEmail(email))!.emailVerified, true);

    const reuse = await resetter.request('auth_reset_password', { email, confirm: { code, new_password: 'third password 3' } });
    assertRpcError(reuse, ErrorCode.BAD_REQUEST, undefined, 'the code works once');
    assert.equal(await signInCode(email, NEW), 0);
  });

  it('the right code fails after 5 wrong tries', async () => {
    const email = uniqueEmail('deadreset');
    await person(gw, { email, password: OLD, name: 'Grace', ...fromOwner });
    await smtp.next(email); // the verification mail, out of the way
    const code = await requestCode(email);
    const client = await gw.connect();
    for (let i = 0; i < 5; i++) {
      const r = await client.request('auth_reset_password', { email, confirm: { code: other(code), new_password: NEW } });
      assertRpcError(r, ErrorCode.BAD_REQUEST);
    }
    const sixth = await client.request('auth_reset_password', { email, confirm: { code, new_password: NEW } });
    assertRpcError(sixth, ErrorCode.BAD_REQUEST);
    assert.equal(await signInCode(email, OLD), 0);
  });

  it('a new reset code retires the previous one', async () => {
    const email = uniqueEmail('retire');
    await person(gw, { email, password: OLD, name: 'Grace', ...fromOwner });
    await smtp.next(email); // the verification mail, out of the way
    const first = await requestCode(email);
    const second = await requestCode(email);
    const client = await gw.connect();
    if (first !== second) {
      const old = await client.request('auth_reset_password', { email, confirm: { code: first, new_password: NEW } });
      assertRpcError(old, ErrorCode.BAD_REQUEST);
    }
    await client.call('auth_reset_password', { email, confirm: { code: second, new_password: NEW } });
    assert.equal(await signInCode(email, NEW), 0);
  });

  it('checks the new password policy before the code, without using the code up', async () => {
    const email = uniqueEmail('policy');
    await person(gw, { email, password: OLD, name: 'Grace', ...fromOwner });
    await smtp.next(email); // the verification mail, out of the way
    const code = await requestCode(email);
    const client = await gw.connect();
    const weak = await client.request('auth_reset_password', { email, confirm: { code, new_password: 'short' } });
    assertRpcError(weak, ErrorCode.BAD_REQUEST);
    assert.match(weak.error?.error_message ?? '', /^confirm\.new_password must be/);
    const badCode = await client.request('auth_reset_password', { email, confirm: { code: 'abc', new_password: NEW } });
    assert.match(badCode.error?.error_message ?? '', /^confirm\.code must be the 6 digits/);
    await client.call('auth_reset_password', { email, confirm: { code, new_password: NEW } });
    assert.equal(await signInCode(email, NEW), 0);
  });

  it('caps reset mails at 5 per address per hour, with or without an account', async () => {
    const known = uniqueEmail('capknown');
    await person(gw, { email: known, password: OLD, name: 'Grace', ...fromOwner });
    await smtp.next(known); // the verification mail, out of the way
    const unknown = uniqueEmail('capunknown');
    const client = await gw.connect();
    for (const email of [known, unknown]) {
      for (let i = 0; i < 5; i++) await client.call('auth_reset_password', { email });
      const r = await client.request('auth_reset_password', { email });
      assertRpcError(r, ErrorCode.RATE_LIMITED);
      const seconds = Number(/retry after (\d+) seconds/.exec(r.error?.error_message ?? '')?.[1]);
      assert.ok(seconds > 3000 && seconds <= 3600, `retry after ${seconds} s`);
    }
    for (let i = 0; i < 5; i++) await smtp.next(known);
    assert.equal(smtp.mailsTo(unknown).length, 0);
    // The reset cap is its own: verification mails to the address still go.
    await client.call('auth_resend_email_verification', { email: known });
    await smtp.next(known);
  });
});

describe('password reset across two instances', () => {
  it('a reset on one instance closes the live socket on the other, and the mail cap is shared', async () => {
    const smtp = await TestSmtp.start();
    const env = { SMTP_URL: smtp.url, REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`, CLIENT_IP_HEADER: 'x-forwarded-for' };
    const a = await startGateway(env);
    const b = await startGateway(env, { databaseUrl: a.databaseUrl });
    try {
      const email = uniqueEmail('twoinstances');
      const live = await b.connect({ 'x-forwarded-for': OWNER_ADDRESS });
      const signedUp = await person(b, { client: live, email, password: OLD, name: 'Two' });
      await smtp.next(email);
      const other = await a.connect();
      await other.call('auth_reset_password', { email });
      const code = codeOf(await smtp.next(email));
      await other.call('auth_reset_password', { email, confirm: { code, new_password: NEW } });
      const update = await live.nextUpdate();
      assert.equal(idFromWire(update.session_deleted?.session_id), idFromWire(signedUp.authorization!.session_id));
      assert.equal((await live.closed).code, CloseCode.SESSION_REVOKED);

      // 1 reset mail went through a; 4 more through b, then both refuse.
      for (let i = 0; i < 4; i++) await (await b.connect()).call('auth_reset_password', { email });
      assertRpcError((await other.request('auth_reset_password', { email })), ErrorCode.RATE_LIMITED);
    } finally {
      await b.close();
      await a.close();
      await smtp.close();
    }
  });
});

describe('password reset with a slow or failing SMTP server', () => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    smtp = await TestSmtp.start();
    gw = await startGateway({ SMTP_URL: smtp.url });
  });
  after(async () => {
    await gw.close();
    await smtp.close();
  });

  it('answers before a slow server has taken the mail', async () => {
    const email = uniqueEmail('slow');
    const { client } = await person(gw, { email, password: OLD, name: 'Slow' });
    await smtp.next(email);
    smtp.delayMs = 1_500;
    try {
      await client.call('auth_reset_password', { email });
      assert.equal(smtp.mailsTo(email).length, 1, 'answered while the reset mail was still in SMTP');
      await smtp.next(email);
    } finally {
      smtp.delayMs = 0;
    }
  });

  it('retries a mail the server refused, and logs the failure without the code', async () => {
    const email = uniqueEmail('retry');
    const client = await gw.connect();
    smtp.failNext = 1;
    await person(gw, { client, email, password: OLD, name: 'Retry' });
    const mail = await smtp.next(email, 10_000);
    const code = codeOf(mail);
    const failed = gw.logs.find((l) => l.msg === 'mail send failed; will retry' && l.to === email);
    assert.ok(failed, 'the failure is logged');
    // The server has the mail a moment before the sender hears back.
    const sent = await eventually(() => gw.logs.find((l) => l.msg === 'mail sent' && l.to === email), { what: "the 'mail sent' log line" });
    assert.equal(sent?.attempts, 2);
    assert.equal(sent?.via, 'smtp');
    const leaks = gw.logs.filter((l) => new RegExp(`\\b${code}\\b`).test(JSON.stringify(l)));
    assert.deepEqual(leaks, [], 'no log line carries the code');
    await client.call('auth_verify_email', { email, code });
  });
});
