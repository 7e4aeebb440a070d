/**
 * Email verification over real SMTP: sign-up mails a code, auth.verifyEmail
 * checks it, auth.resendEmailVerification mails a new one, hourly caps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { CODE_REFUSED } from '../../src/services/accountEmail.js';
import { EmailCodesRepo } from '../../src/store/emailCodesRepo.js';
import { person } from '../helpers/accounts.js';
import { codeOf, isEmptyResult, TestSmtp } from '../helpers/smtp.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const PASSWORD = 'correct horse battery';

describe('email verification', () => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    smtp = await TestSmtp.start();
    gw = await startGateway({ SMTP_URL: smtp.url, MAIL_FROM: 'Osmium Test <no-reply@osmium.test>' });
  });
  after(async () => {
    await gw.close();
    await smtp.close();
  });

  const isVerified = async (email: string) => (await gw.app.repos.users.byEmail(email))!.emailVerified;
  /** A 6-digit code that is not `code`. */
  const other = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it('sign-up mails a code (subject and its own line in the text) that verifies the address without signing in', async () => {
    const email = uniqueEmail('signup');
    await person(gw, { email, password: PASSWORD, name: 'Ada' });
    const mail = await smtp.next(email);
    const code = codeOf(mail);
    assert.match(mail.subject, new RegExp(`\\b${code}\\b`));
    assert.match(mail.text, /valid for 30 minutes/);
    assert.match(mail.raw, /^From: Osmium Test <no-reply@osmium\.test>/m);
    assert.match(mail.raw, /Content-Type: text\/html/i, 'has an HTML part too');
    assert.equal(await isVerified(email), false);

    const stranger = await gw.connect(); // a socket that never signed in
    const r = await stranger.request('auth_verify_email', { email: email.toUpperCase(), code });
    assert.ok(isEmptyResult(r), 'answers ()');
    assert.equal(await isVerified(email), true);
  });

  it('refuses a wrong code with 400 and a clear message, and the right code still works after it', async () => {
    const email = uniqueEmail('wrong');
    await person(gw, { email, password: PASSWORD, name: 'Ada' });
    const code = codeOf(await smtp.next(email));
    const client = await gw.connect();
    const r = await client.request('auth_verify_email', { email, code: other(code) });
    assertRpcError(r, ErrorCode.BAD_REQUEST);
    assert.equal(r.error?.error_message, CODE_REFUSED);
    assert.equal(await isVerified(email), false);
    await client.call('auth_verify_email', { email, code });
    assert.equal(await isVerified(email), true);
  });

  it('answers an address without account exactly like a wrong code', async () => {
    const client = await gw.connect();
    const r = await client.request('auth_verify_email', { email: uniqueEmail('nobody'), code: '123456' });
    assertRpcError(r, ErrorCode.BAD_REQUEST);
    assert.equal(r.error?.error_message, CODE_REFUSED);
  });

  it('a code works once', async () => {
    const email = uniqueEmail('once');
    await person(gw, { email, password: PASSWORD, name: 'Ada' });
    const code = codeOf(await smtp.next(email));
    const client = await gw.connect();
    await client.call('auth_verify_email', { email, code });
    const again = await client.request('auth_verify_email', { email, code });
    assertRpcError(again, ErrorCode.BAD_REQUEST);
    assert.equal(again.error?.error_message, CODE_REFUSED);
  });

  it('resend mails a new code and retires the old one', async () => {
    const email = uniqueEmail('resend');
    await person(gw, { email, password: PASSWORD, name: 'Ada' });
    const first = codeOf(await smtp.next(email));
    const client = await gw.connect();
    await client.call('auth_resend_email_verification', { email });
    const second = codeOf(await smtp.next(email));
    const old = await client.request('auth_verify_email', { email, code: first });
    if (first !== second) {
      assertRpcError(old, ErrorCode.BAD_REQUEST, undefined, 'the first code is retired');
    }
    await client.call('auth_verify_email', { email, code: second });
    assert.equal(await isVerified(email), true);
  });

  it('the right code fails after 5 wrong tries (the code is dead)', async () => {
    const email = uniqueEmail('dead');
    await person(gw, { email, password: PASSWORD, name: 'Ada' });
    const code = codeOf(await smtp.next(email));
    const client = await gw.connect();
    for (let i = 0; i < 5; i++) {
      const r = await client.request('auth_verify_email', { email, code: other(code) });
      assertRpcError(r, ErrorCode.BAD_REQUEST);
    }
    const sixth = await client.request('auth_verify_email', { email, code });
    assertRpcError(sixth, ErrorCode.BAD_REQUEST);
    assert.equal(await isVerified(email), false);
    // A new code replaces the dead one.
    await client.call('auth_resend_email_verification', { email });
    await client.call('auth_verify_email', { email, code: codeOf(await smtp.next(email)) });
    assert.equal(await isVerified(email), true);
  });

  it('a code is valid 30 minutes, and refused once expired', async () => {
    const email = uniqueEmail('expiry');
    await person(gw, { email, password: PASSWORD, name: 'Ada' });
    const code = codeOf(await smtp.next(email));
    const user = (await gw.app.repos.users.byEmail(email))!;
    const record = await new EmailCodesRepo(gw.app.db).get(user.id, 'verify_email');
    const validMs = record!.expiresAt.getTime() - Date.now();
    assert.ok(validMs > 29 * 60_000 && validMs <= 30 * 60_000, `valid for ${validMs} ms`);
    const { rows } = await gw.app.db.query<{ stored: string }>(
      `SELECT email || encode(salt, 'hex') || encode(code_hash, 'hex') AS stored FROM email_codes WHERE user_id = $1`,
      [user.id],
    );
    assert.equal(rows[0]!.stored.includes(code), false, 'only a hash of the code is stored');
    assert.equal(record!.codeHash.length, 32);
    await gw.app.db.query(`UPDATE email_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.id]);
    const client = await gw.connect();
    const r = await client.request('auth_verify_email', { email, code });
    assertRpcError(r, ErrorCode.BAD_REQUEST);
    assert.equal(await isVerified(email), false);
  });

  it('resend without an email uses the signed-in account, and needs a session', async () => {
    const email = uniqueEmail('self');
    const { client } = await person(gw, { email, password: PASSWORD, name: 'Ada' });
    await smtp.next(email);
    await client.call('auth_resend_email_verification', {});
    const code = codeOf(await smtp.next(email));
    await client.call('auth_verify_email', { email, code });
    const verified = await client.request('auth_resend_email_verification', {});
    assertRpcError(verified, ErrorCode.CONFLICT, undefined, 'already verified');

    const signedOut = await gw.connect();
    const r = await signedOut.request('auth_resend_email_verification', {});
    assertRpcError(r, ErrorCode.UNAUTHENTICATED);
  });

  it('resend with an email answers () alike and mails only an unverified account', async () => {
    const verified = uniqueEmail('verified');
    await person(gw, { email: verified, password: PASSWORD, name: 'Ada' });
    const client = await gw.connect();
    await client.call('auth_verify_email', { email: verified, code: codeOf(await smtp.next(verified)) });
    const unverified = uniqueEmail('unverified');
    await person(gw, { email: unverified, password: PASSWORD, name: 'Ada' });
    await smtp.next(unverified);
    const nobody = uniqueEmail('nobody');

    const answers = [];
    for (const email of [nobody, verified, unverified]) answers.push(await client.request('auth_resend_email_verification', { email }));
    for (const r of answers) {
      assert.ok(isEmptyResult(r), 'answers ()');
    }
    await smtp.next(unverified); // sent last: the queue is in order, so the others would be here by now
    assert.equal(smtp.mailsTo(nobody).length, 0);
    assert.equal(smtp.mailsTo(verified).length, 1, 'only the sign-up mail');
  });

  it('validates the request before any work', async () => {
    const client = await gw.connect();
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ email: '', code: '123456' }, /^email is required/],
      [{ email: 'not-an-address', code: '123456' }, /^email is not a valid/],
      [{ email: uniqueEmail(), code: '' }, /^code is required/],
      [{ email: uniqueEmail(), code: '12345' }, /^code must be the 6 digits/],
      [{ email: uniqueEmail(), code: 'x'.repeat(10_000) }, /^code must be at most/],
    ];
    for (const [payload, message] of cases) {
      const r = await client.request('auth_verify_email', payload);
      assertRpcError(r, ErrorCode.BAD_REQUEST);
      assert.match(r.error?.error_message ?? '', message);
    }
    const r = await client.request('auth_resend_email_verification', { email: 'nope' });
    assertRpcError(r, ErrorCode.BAD_REQUEST);
  });

  it('caps verification mails at 5 per address per hour, the sign-up mail included', async () => {
    const email = uniqueEmail('cap');
    await person(gw, { email, password: PASSWORD, name: 'Ada' });
    await smtp.next(email);
    const client = await gw.connect();
    for (let i = 0; i < 4; i++) await client.call('auth_resend_email_verification', { email: i % 2 ? email.toUpperCase() : email });
    const r = await client.request('auth_resend_email_verification', { email });
    assertRpcError(r, ErrorCode.RATE_LIMITED);
    const seconds = Number(/retry after (\d+) seconds/.exec(r.error?.error_message ?? '')?.[1]);
    assert.ok(seconds > 3000 && seconds <= 3600, `retry after ${seconds} s`);
    for (let i = 0; i < 4; i++) await smtp.next(email);
    // Signed in, the own address shares the cap.
    const own = await gw.connect();
    await own.call('auth_sign_in', { email, password: PASSWORD });
    assertRpcError((await own.request('auth_resend_email_verification', {})), ErrorCode.RATE_LIMITED);
  });

  it('caps an address without account the same way, so the 429 reveals nothing', async () => {
    const email = uniqueEmail('capnobody');
    const client = await gw.connect();
    for (let i = 0; i < 5; i++) await client.call('auth_resend_email_verification', { email });
    const r = await client.request('auth_resend_email_verification', { email });
    assertRpcError(r, ErrorCode.RATE_LIMITED);
    assert.match(r.error?.error_message ?? '', /retry after \d+ seconds/);
    // Another address is not affected.
    await client.call('auth_resend_email_verification', { email: uniqueEmail('capother') });
  });
});

describe('email verification with RATE_LIMITS=off', () => {
  it('never answers 429', async () => {
    const gw = await startGateway({ RATE_LIMITS: 'off' });
    try {
      const client = await gw.connect();
      const email = uniqueEmail('nolimit');
      for (let i = 0; i < 8; i++) await client.call('auth_resend_email_verification', { email });
    } finally {
      await gw.close();
    }
  });
});
