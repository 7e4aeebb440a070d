/**
 * The per-address and per-user limits that guard sign-ups, mail and invites
 * hold when many requests arrive at once, spread over two gateway instances
 * sharing Postgres and Redis (REDIS_PREFIX): each test fires four times a
 * limit's allowance, half at each instance, and counts what got through.
 * (Guess limits have the same kind of tests in guessLimits.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { OsmiumClient, RpcResult } from '../../src/client/client.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { guest, person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { codes, count } from '../helpers/results.js';
import { isEmptyResult, TestSmtp } from '../helpers/smtp.js';
import { createDatabase, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

/** Each limit under test allows this many per window; the rest of the catalogue is lifted (stack.ts). */
const ALLOWED = 3;
const FIRED = ALLOWED * 4;
const LIMITS = {
  LIMIT_SIGNUP_IP: `${ALLOWED}/600`,
  LIMIT_MAIL_IP: `${ALLOWED}/600`,
  LIMIT_VERIFY_MAIL_EMAIL: `${ALLOWED}/3600`,
  LIMIT_RESET_MAIL_EMAIL: `${ALLOWED}/3600`,
  LIMIT_INVITE_LOOKUP_USER: `${ALLOWED}/60`,
  LIMIT_INVITE_USE_IP: `${ALLOWED}/60`,
};

describe('limits across two instances, many requests at once', () => {
  let smtp: TestSmtp;
  let one: TestGateway;
  let two: TestGateway;
  let address = 0;
  /** A socket on instance `i % 2`, from `ip` (default: an address of its own). */
  const connect = (i: number, ip = `203.0.113.${++address % 250}`) => (i % 2 ? two : one).connect({ 'x-forwarded-for': ip });
  /** One socket per request (so the per-socket cap never answers first), half on each instance. */
  const fire = async (send: (client: OsmiumClient, i: number) => Promise<RpcResult>, ip?: (i: number) => string) => {
    const sockets = await Promise.all(Array.from({ length: FIRED }, (_, i) => connect(i, ip?.(i))));
    return Promise.all(sockets.map((c, i) => send(c, i)));
  };

  before(async () => {
    smtp = await TestSmtp.start();
    const databaseUrl = await createDatabase();
    const env = { ...LIMITS, SMTP_URL: smtp.url, CLIENT_IP_HEADER: 'x-forwarded-for', REDIS_PREFIX: `la${randomBytes(4).toString('hex')}:` };
    [one, two] = await Promise.all([startGateway(env, { databaseUrl }), startGateway(env, { databaseUrl })]);
  });
  after(async () => {
    await Promise.all([one?.close(), two?.close()]);
    await smtp?.close();
  });

  it(`sign-ups from one address: ${FIRED} at once, exactly ${ALLOWED} accounts made`, async () => {
    const results = await fire((c, i) => c.request('auth_sign_up', { name: `Guest ${i}` }), () => '198.51.100.10');
    assert.equal(results.filter((r) => r.authorization).length, ALLOWED, `answers ${codes(results).join(',')}`);
    assert.equal(count(results, ErrorCode.RATE_LIMITED), FIRED - ALLOWED);
  });

  it(`reset requests from one address for ${FIRED} addresses: exactly ${ALLOWED} answered`, async () => {
    const results = await fire((c) => c.request('auth_reset_password', { email: uniqueEmail('nobody') }), () => '198.51.100.11');
    assert.equal(results.filter(isEmptyResult).length, ALLOWED, `answers ${codes(results).join(',')}`);
    assert.equal(count(results, ErrorCode.RATE_LIMITED), FIRED - ALLOWED);
  });

  it(`reset mails to one account from ${FIRED} addresses: exactly ${ALLOWED} answered and ${ALLOWED} mails sent`, async () => {
    const email = uniqueEmail('reset');
    await person(one, { client: await connect(0, '192.0.2.1'), email, password: 'limits quokka password', name: 'Target' });
    const results = await fire((c) => c.request('auth_reset_password', { email }));
    assert.equal(results.filter(isEmptyResult).length, ALLOWED, `answers ${codes(results).join(',')}`);
    assert.equal(count(results, ErrorCode.RATE_LIMITED), FIRED - ALLOWED);
    await eventually(() => smtp.mails.filter((m) => m.to.includes(email) && /password reset/.test(m.subject)).length === ALLOWED, {
      what: `${ALLOWED} reset mails to ${email}`,
    });
  });

  it(`verification mails to one address, the sign-up's and ${FIRED} resends from as many addresses: exactly ${ALLOWED} in all`, async () => {
    const email = uniqueEmail('verify');
    // Signing up mails a first code: one of the address's share.
    await (await connect(0, '192.0.2.2')).call('auth_sign_up', { email, password: 'limits quokka password', name: 'Unverified' });
    await smtp.next(email);
    const results = await fire((c) => c.request('auth_resend_email_verification', { email }));
    assert.equal(results.filter(isEmptyResult).length, ALLOWED - 1, `answers ${codes(results).join(',')}`);
    assert.equal(count(results, ErrorCode.RATE_LIMITED), FIRED - ALLOWED + 1);
  });

  it(`invite lookups by one user from ${FIRED} addresses: exactly ${ALLOWED} looked up`, async () => {
    const { authorization } = await guest(one, 'Looker', { client: await connect(0) });
    const results = await fire(async (c, i) => {
      await c.call('auth_authorize', { token: authorization!.token! });
      return c.request('auth_lookup_invite', { code: `look${String(i).padStart(6, '0')}` });
    });
    assert.equal(count(results, ErrorCode.NOT_FOUND), ALLOWED, `answers ${codes(results).join(',')}`);
    assert.equal(count(results, ErrorCode.RATE_LIMITED), FIRED - ALLOWED);
  });

  it(`invite uses by ${FIRED} users from one address: exactly ${ALLOWED} tried`, async () => {
    // Each user signs up from an address of its own (sign-ups are limited per address too), then uses from the shared one.
    const tokens = await Promise.all(
      Array.from({ length: FIRED }, async (_, i) => (await guest(i % 2 ? two : one, `User ${i}`, { client: await connect(i) })).token),
    );
    const results = await fire(async (c, i) => {
      await c.call('auth_authorize', { token: tokens[i]! });
      return c.request('auth_use_invite', { code: `use${String(i).padStart(7, '0')}` });
    }, () => '198.51.100.12');
    assert.equal(count(results, ErrorCode.NOT_FOUND), ALLOWED, `answers ${codes(results).join(',')}`);
    assert.equal(count(results, ErrorCode.RATE_LIMITED), FIRED - ALLOWED);
  });
});
