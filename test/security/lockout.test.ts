/**
 * Targeted lockouts: a stranger who spends an address's shared allowances
 * (failed sign-ins per email, reset mails per address) does not lock its owner
 * out when the owner comes from a network the account signed in from before.
 * Everyone else stays capped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { person } from '../helpers/accounts.js';
import { TestSmtp } from '../helpers/smtp.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError, code } from '../helpers/results.js';

const PASSWORD = 'owner password';
const OWNER = '198.51.100.20';
const from = (gw: TestGateway, ip: string) => gw.connect({ 'x-forwarded-for': ip });

describe('targeted lockouts', () => {
  it("a stranger's wrong passwords from many addresses block the email, but not its owner's known network", async () => {
    const gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', LIMIT_SIGNIN_FAIL_EMAIL: '30/3600', LIMIT_SIGNIN_FAIL_EMAIL_IP: '5/900' });
    try {
      const email = uniqueEmail('locked');
      await person(gw, { client: await from(gw, OWNER), email, password: PASSWORD, name: 'Owner' });
      const answers = [];
      for (let i = 0; i < 31; i++) answers.push(code(await (await from(gw, `203.0.113.${i + 1}`)).request('auth_sign_in', { email, password: `guess ${i}` })));
      assert.equal(answers.at(-1), ErrorCode.RATE_LIMITED, 'the email is blocked for strangers');
      const newNetwork = await (await from(gw, '192.0.2.50')).request('auth_sign_in', { email, password: PASSWORD });
      assertRpcError(newNetwork, ErrorCode.RATE_LIMITED, undefined, 'a network the account never signed in from is blocked too');
      const owner = await (await from(gw, OWNER)).request('auth_sign_in', { email, password: PASSWORD });
      assert.ok(owner.authorization, 'the owner signs in from the network they signed up from');
      const attackerThere = await from(gw, OWNER);
      const guesses = [];
      for (let i = 0; i < 6; i++) guesses.push(code(await attackerThere.request('auth_sign_in', { email, password: `nearby ${i}` })));
      assert.deepEqual(guesses, [401, 401, 401, 401, 401, 429], 'from that network the (email, address) cap still holds');
    } finally {
      await gw.close();
    }
  });

  it("a stranger's reset requests spend the address's mails, but the owner's known network can still reset", async () => {
    const smtp = await TestSmtp.start();
    const gw = await startGateway({ SMTP_URL: smtp.url, CLIENT_IP_HEADER: 'x-forwarded-for' });
    try {
      const email = uniqueEmail('reset');
      await person(gw, { client: await from(gw, OWNER), email, password: PASSWORD, name: 'Owner' });
      await smtp.next(email); // verification
      const stranger = await from(gw, '203.0.113.200');
      for (let i = 0; i < 5; i++) await stranger.call('auth_reset_password', { email });
      assertRpcError((await stranger.request('auth_reset_password', { email })), ErrorCode.RATE_LIMITED);
      assertRpcError((await (await from(gw, '192.0.2.60')).request('auth_reset_password', { email })), ErrorCode.RATE_LIMITED, undefined, 'other networks too');
      for (let i = 0; i < 5; i++) await smtp.next(email);

      const owner = await from(gw, OWNER);
      assert.equal((await owner.request('auth_reset_password', { email })).error, null, "the owner's request is taken");
      await smtp.next(email);
      const ownerMore = [];
      for (let i = 0; i < 5; i++) ownerMore.push(code(await owner.request('auth_reset_password', { email })));
      assert.deepEqual(ownerMore, [0, 0, 0, 0, ErrorCode.RATE_LIMITED], 'the owner network has its own share of 5, not unlimited mail');
    } finally {
      await gw.close();
      await smtp.close();
    }
  });
});
