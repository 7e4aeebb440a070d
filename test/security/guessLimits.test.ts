/**
 * Guess limits hold under concurrency: each test fires many times a limit's
 * allowance at once and counts how many guesses were evaluated (a 401 or a
 * code refusal is only answered after the guess was checked; a 429 before).
 * The attempt is reserved in Redis before the work, so no more than the
 * allowance is ever evaluated, from one socket or many, on one gateway or two.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { OsmiumClient, type RpcResult } from '../../src/client/client.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { guest, person } from '../helpers/accounts.js';
import { assertRpcError, codes, count } from '../helpers/results.js';
import { codeOf, TestSmtp } from '../helpers/smtp.js';
import { createDatabase, REDIS_ENV, spawnGateway, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const PASSWORD = 'the right password';
/** Requests in flight per socket stay under the gateway's cap of 32. */
const PER_SOCKET = 25;

/** Sends `count` requests at once, spread over enough sockets, each socket made by `connect(i)`; resolves with every answer. */
async function burst(count: number, connect: (i: number) => Promise<OsmiumClient>, send: (client: OsmiumClient, i: number) => Promise<RpcResult>): Promise<RpcResult[]> {
  const sockets = await Promise.all(Array.from({ length: Math.ceil(count / PER_SOCKET) }, (_, i) => connect(i)));
  return Promise.all(Array.from({ length: count }, (_, i) => send(sockets[Math.floor(i / PER_SOCKET)]!, i)));
}

describe('sign-in guesses are reserved before the password is checked', () => {
  it('60 concurrent wrong passwords for one email from one address: at most 5 evaluated, then the right one is refused too', async () => {
    const gw = await startGateway({ LIMIT_SIGNIN_FAIL_EMAIL_IP: '5/900', LIMIT_SIGNIN_FAIL_EMAIL: '30/3600' });
    try {
      const email = uniqueEmail('burst');
      await person(gw, { email, password: PASSWORD, name: 'Target' });
      const results = await burst(60, () => gw.connect(), (c, i) => c.request('auth_sign_in', { email, password: `wrong guess ${i}` }));
      assert.ok(count(results, ErrorCode.UNAUTHENTICATED) <= 5, `evaluated: ${count(results, ErrorCode.UNAUTHENTICATED)} (answers ${codes(results).join(',')})`);
      assert.equal(count(results, ErrorCode.UNAUTHENTICATED) + count(results, ErrorCode.RATE_LIMITED), 60, 'every other guess was refused unevaluated');
      const right = await (await gw.connect()).request('auth_sign_in', { email, password: PASSWORD });
      assertRpcError(right, ErrorCode.RATE_LIMITED, undefined, 'the right password is refused once the allowance is spent');
    } finally {
      await gw.close();
    }
  });

  it('60 concurrent guesses from 60 addresses: at most 30 wrong ones evaluated for the email, then the right one is refused', async () => {
    const gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', LIMIT_SIGNIN_FAIL_EMAIL_IP: '5/900', LIMIT_SIGNIN_FAIL_EMAIL: '30/3600' });
    try {
      const email = uniqueEmail('spray');
      await person(gw, { client: await gw.connect({ 'x-forwarded-for': '198.51.100.200' }), email, password: PASSWORD, name: 'Target' });
      // One socket per address: the nearest (only) proxy hop is the test itself.
      const sockets = await Promise.all(Array.from({ length: 60 }, (_, i) => gw.connect({ 'x-forwarded-for': `203.0.113.${i + 1}` })));
      const results = await Promise.all(sockets.map((c, i) => c.request('auth_sign_in', { email, password: i === 59 ? PASSWORD : `wrong ${i}` })));
      // The allowance counts failures: a right password among the first 30 gives its point back, so
      // 30 wrong guesses and that one may all be evaluated; never a 31st wrong one.
      const wrongEvaluated = count(results, ErrorCode.UNAUTHENTICATED);
      assert.ok(wrongEvaluated <= 30, `wrong guesses evaluated: ${wrongEvaluated}`);
      assert.equal(wrongEvaluated + count(results, ErrorCode.RATE_LIMITED) + results.filter((r) => r.authorization).length, 60, 'every guess answered 401, 429 or signed in');
      const right = await (await gw.connect({ 'x-forwarded-for': '192.0.2.77' })).request('auth_sign_in', { email, password: PASSWORD });
      assertRpcError(right, ErrorCode.RATE_LIMITED);
    } finally {
      await gw.close();
    }
  });

  it('the same across two gateway processes sharing Redis: 30 guesses at each, at most 5 evaluated in all', async () => {
    const env = { DATABASE_URL: await createDatabase(), ...REDIS_ENV, REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`, LIMIT_SIGNIN_FAIL_EMAIL_IP: '5/900' };
    const [one, two] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
    const sockets: OsmiumClient[] = [];
    try {
      const email = uniqueEmail('two');
      const owner = await OsmiumClient.connect(one.url);
      sockets.push(owner);
      await person(one, { client: owner, email, password: PASSWORD, name: 'Target' });
      const results = await burst(
        60,
        async (i) => {
          const c = await OsmiumClient.connect(i % 2 ? one.url : two.url);
          sockets.push(c);
          return c;
        },
        (c, i) => c.request('auth_sign_in', { email, password: `wrong ${i}` }),
      );
      assert.ok(count(results, ErrorCode.UNAUTHENTICATED) <= 5, `evaluated: ${count(results, ErrorCode.UNAUTHENTICATED)}`);
      const right = await sockets[1]!.request('auth_sign_in', { email, password: PASSWORD });
      assertRpcError(right, ErrorCode.RATE_LIMITED);
    } finally {
      await Promise.all(sockets.map((c) => c.close()));
      await Promise.all([one.stop(), two.stop()]);
    }
  });
});

describe('code guesses are bounded however many arrive at once', () => {
  async function withMail(env: Record<string, string>, work: (gw: TestGateway, smtp: TestSmtp) => Promise<void>): Promise<void> {
    const smtp = await TestSmtp.start();
    const gw = await startGateway({ SMTP_URL: smtp.url, ...env });
    try {
      await work(gw, smtp);
    } finally {
      await gw.close();
      await smtp.close();
    }
  }
  /** Log lines of refused codes, by reason ('wrong' means the guess was compared against a live code). */
  const refusals = (gw: TestGateway, reason: string) => gw.logs.filter((l) => l.msg === 'email code refused' && l.reason === reason).length;
  const notThe = (code: string, i: number) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0');

  it('email codes per address: 60 concurrent checks from one address, at most the 5 allowed are evaluated', async () => {
    await withMail({ LIMIT_CODE_CHECK_IP: '5/900' }, async (gw) => {
      const email = uniqueEmail('codeip');
      await person(gw, { email, password: PASSWORD, name: 'Coded' });
      const results = await burst(60, () => gw.connect(), (c, i) => c.request('auth_verify_email', { email, code: String(100000 + i) }));
      assert.ok(count(results, ErrorCode.BAD_REQUEST) <= 5, `evaluated: ${count(results, ErrorCode.BAD_REQUEST)}`);
      assert.equal(count(results, ErrorCode.RATE_LIMITED), 60 - count(results, ErrorCode.BAD_REQUEST));
    });
  });

  it('email codes per code: 60 concurrent wrong codes from 60 addresses, at most 5 compared, then the right code is dead', async () => {
    await withMail({ CLIENT_IP_HEADER: 'x-forwarded-for' }, async (gw, smtp) => {
      const email = uniqueEmail('codedead');
      await person(gw, { email, password: PASSWORD, name: 'Coded' });
      const code = codeOf(await smtp.next(email));
      const results = await burst(60, (i) => gw.connect({ 'x-forwarded-for': `198.51.100.${i + 1}` }), (c, i) => c.request('auth_verify_email', { email, code: notThe(code, i) }));
      assert.equal(count(results, ErrorCode.BAD_REQUEST), 60);
      assert.ok(refusals(gw, 'wrong') <= 5, `compared against the code: ${refusals(gw, 'wrong')}`);
      const right = await (await gw.connect({ 'x-forwarded-for': '192.0.2.9' })).request('auth_verify_email', { email, code });
      assertRpcError(right, ErrorCode.BAD_REQUEST, undefined, 'the right code is refused after 5 wrong tries');
    });
  });

  it('reset confirmations: 60 concurrent from one address evaluate at most the allowance, and 60 from many leave the code dead', async () => {
    await withMail({ CLIENT_IP_HEADER: 'x-forwarded-for', LIMIT_CODE_CHECK_IP: '5/900' }, async (gw, smtp) => {
      const email = uniqueEmail('reset');
      await person(gw, { email, password: PASSWORD, name: 'Reset' });
      await smtp.next(email); // the verification mail
      await (await gw.connect()).call('auth_reset_password', { email });
      const code = codeOf(await smtp.next(email));
      const confirm = (c: OsmiumClient, guess: string) => c.request('auth_reset_password', { email, confirm: { code: guess, new_password: 'a new password' } });

      const fromOne = await burst(60, () => gw.connect({ 'x-forwarded-for': '203.0.113.1' }), (c, i) => confirm(c, notThe(code, i)));
      assert.ok(count(fromOne, ErrorCode.BAD_REQUEST) <= 5, `evaluated from one address: ${count(fromOne, ErrorCode.BAD_REQUEST)}`);

      const fromMany = await burst(60, (i) => gw.connect({ 'x-forwarded-for': `198.51.100.${i + 1}` }), (c, i) => confirm(c, notThe(code, i + 100)));
      assert.ok(refusals(gw, 'wrong') <= 5, `compared against the code: ${refusals(gw, 'wrong')}`);
      assert.equal(count(fromMany, ErrorCode.RATE_LIMITED) + count(fromMany, ErrorCode.BAD_REQUEST), 60);
      const right = await confirm(await gw.connect({ 'x-forwarded-for': '192.0.2.10' }), code);
      assertRpcError(right, ErrorCode.BAD_REQUEST, undefined, 'the right code is dead');
    });
  });
});

describe('invite code guesses are bounded however many arrive at once', () => {
  it('200 concurrent lookups from one address answer at most the 20 allowed; 100 uses by one user at most the 10 allowed', async () => {
    const gw = await startGateway({ LIMIT_INVITE_LOOKUP_IP: '20/60', LIMIT_INVITE_USE_USER: '10/60' });
    try {
      const guess = (i: number) => `guess${String(i).padStart(5, '0')}`;
      const lookups = await burst(200, () => gw.connect(), (c, i) => c.request('auth_lookup_invite', { code: guess(i) }));
      assert.equal(count(lookups, ErrorCode.NOT_FOUND), 20, `looked up: ${count(lookups, ErrorCode.NOT_FOUND)}`);
      assert.equal(count(lookups, ErrorCode.RATE_LIMITED), 180);

      const { client: user } = await guest(gw, 'Guesser');
      const uses = await Promise.all(Array.from({ length: 30 }, (_, i) => user.request('auth_use_invite', { code: guess(1000 + i) })));
      assert.equal(count(uses, ErrorCode.NOT_FOUND), 10, `used: ${count(uses, ErrorCode.NOT_FOUND)}`);
    } finally {
      await gw.close();
    }
  });
});
