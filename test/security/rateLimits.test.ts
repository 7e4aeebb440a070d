/**
 * Abuse limits over a real socket, counted in Redis: sign-in failures per
 * (email, IP) and per email with a growing block, sign-ups and mails per IP,
 * code checks per IP, the fail-closed direction while Redis is down, and
 * RATE_LIMITS=off.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis } from '../../scripts/stack.mjs';
import { OsmiumClient } from '../../src/client/client.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { RateLimitBackend } from '../../src/services/rateLimit.js';
import { guest, person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { REDIS_URL, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError, code, ok } from '../helpers/results.js';

const PASSWORD = 'limits password';

/** A socket that arrives through two proxies (TRUSTED_PROXIES=2): the client `ip`, then the proxy 10.0.0.1, then this socket. */
function from(gw: TestGateway, ip: string): Promise<OsmiumClient> {
  return gw.connect({ 'x-forwarded-for': `${ip}, 10.0.0.1` });
}

describe('abuse limits', () => {
  it('blocks sign-in failures per (email, IP) without locking the owner out from elsewhere', async () => {
    const gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', TRUSTED_PROXIES: '2', LIMIT_SIGNIN_FAIL_EMAIL_IP: '3/600' });
    try {
      const email = uniqueEmail('guess');
      await person(gw, { client: await from(gw, '198.51.100.1'), email, password: PASSWORD, name: 'Target' });
      const attacker = await from(gw, '203.0.113.7');
      for (let i = 0; i < 3; i++) {
        const r = await attacker.request('auth_sign_in', { email, password: `guess ${i}` });
        assertRpcError(r, ErrorCode.UNAUTHENTICATED);
      }
      const blocked = await attacker.request('auth_sign_in', { email, password: PASSWORD });
      assertRpcError(blocked, ErrorCode.RATE_LIMITED, undefined, 'even the right password is refused from there');
      assert.match(blocked.error!.error_message!, /retry after 60 seconds/, 'first block: 60 s');
      const owner = await from(gw, '198.51.100.1');
      assert.ok(ok(await owner.request('auth_sign_in', { email, password: PASSWORD })).authorization, 'the owner signs in from their own address');
    } finally {
      await gw.close();
    }
  });

  it('counts unknown emails exactly like known ones (the limit reveals nothing)', async () => {
    const gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', TRUSTED_PROXIES: '2', LIMIT_SIGNIN_FAIL_EMAIL_IP: '2/600' });
    try {
      const client = await from(gw, '203.0.113.9');
      const known = uniqueEmail('known');
      await person(gw, { client, email: known, password: PASSWORD, name: 'Known' });
      const answers: string[] = [];
      for (const email of [known, uniqueEmail('unknown')]) {
        for (let i = 0; i < 3; i++) {
          const r = await client.request('auth_sign_in', { email, password: 'wrong password' });
          answers.push(`${r.error?.error_code}:${r.error?.error_message?.replace(/\d+ seconds/, 'N seconds')}`);
        }
      }
      assert.deepEqual(answers.slice(0, 3), answers.slice(3));
      assert.match(answers[2]!, /^429:/);
    } finally {
      await gw.close();
    }
  });

  it('limits failures per email across IPs', async () => {
    const gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', TRUSTED_PROXIES: '2', LIMIT_SIGNIN_FAIL_EMAIL: '4/600' });
    try {
      const email = uniqueEmail('spray');
      for (let i = 0; i < 4; i++) {
        const r = await (await from(gw, `192.0.2.${i + 1}`)).request('auth_sign_in', { email, password: 'wrong password' });
        assertRpcError(r, ErrorCode.UNAUTHENTICATED);
      }
      const r = await (await from(gw, '192.0.2.99')).request('auth_sign_in', { email, password: 'wrong password' });
      assertRpcError(r, ErrorCode.RATE_LIMITED);
      assert.match(r.error!.error_message!, /retry after 900 seconds/);
    } finally {
      await gw.close();
    }
  });

  it('limits sign-ups and mail requests per IP, and code checks per IP', async () => {
    const gw = await startGateway({
      CLIENT_IP_HEADER: 'x-forwarded-for', TRUSTED_PROXIES: '2', LIMIT_SIGNUP_IP: '2/3600', LIMIT_MAIL_IP: '2/3600', LIMIT_CODE_CHECK_IP: '2/900',
    });
    try {
      const spammer = await from(gw, '203.0.113.50');
      await spammer.call('auth_sign_up', { name: 'One' });
      await spammer.call('auth_sign_up', { name: 'Two' });
      const third = await spammer.request('auth_sign_up', { name: 'Three' });
      assertRpcError(third, ErrorCode.RATE_LIMITED);
      assert.match(third.error!.error_message!, /sign-ups.*retry after \d+ seconds/);
      assert.ok(ok(await (await from(gw, '203.0.113.51')).request('auth_sign_up', { name: 'Elsewhere' })).authorization);

      for (const email of [uniqueEmail('m1'), uniqueEmail('m2')]) assert.equal((await spammer.request('auth_reset_password', { email })).error, null);
      const mail = await spammer.request('auth_resend_email_verification', { email: uniqueEmail('m3') });
      assertRpcError(mail, ErrorCode.RATE_LIMITED);

      for (let i = 0; i < 2; i++) {
        const r = await spammer.request('auth_verify_email', { email: uniqueEmail('c'), code: '123456' });
        assertRpcError(r, ErrorCode.BAD_REQUEST);
      }
      const code = await spammer.request('auth_verify_email', { email: uniqueEmail('c'), code: '123456' });
      assertRpcError(code, ErrorCode.RATE_LIMITED);
    } finally {
      await gw.close();
    }
  });

  it('grows the block with each block (growing delay)', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const limits = new RateLimitBackend({ redis, prefix: `grow${randomBytes(4).toString('hex')}:`, enabled: true });
      const limit = limits.define('growing', { points: 2, durationSeconds: 600, blockSeconds: 1, maxBlockSeconds: 4, refusal: (s) => `retry after ${s} seconds` });
      const refusal = async () => limit.reserve('k').then(async (r) => (await r.cancelled(), 'allowed'), (err: Error) => err.message);
      const fail = async () => (await limit.reserve('k')).failed();
      await fail();
      await fail();
      assert.match(await refusal(), /retry after 1 seconds/);
      // The shortest block the limiter knows is a second: wait it out.
      await eventually(async () => (await refusal()) === 'allowed', { what: 'the 1 s block to end' });
      await fail();
      await fail();
      assert.match(await refusal(), /retry after 2 seconds/, 'second block doubles');
    } finally {
      redis.disconnect();
    }
  });

  it('fails closed for sign-in while Redis is down (503), and serves again when it returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osmium-limits-'));
    let redis = await startRedis(dir);
    const gw = await startGateway({ REDIS_URL: redis.url }); // its own Redis node, whatever TEST_REDIS_MODE says
    try {
      const email = uniqueEmail('closed');
      const client = await gw.connect();
      const { authorization } = await person(gw, { client, email, password: PASSWORD, name: 'Closed' });
      redis.stop();
      await eventually(() => gw.logs.some((l) => l.msg === 'redis connection error' && l.role === 'commands'), {
        what: 'the gateway to notice Redis is gone',
      });
      const r = await client.request('auth_sign_in', { email, password: PASSWORD });
      assertRpcError(r, ErrorCode.UNAVAILABLE);
      assert.match(r.error!.error_message!, /rate limiting is unavailable/);
      const resumed = await (await gw.connect()).request('auth_authorize', { token: authorization!.token! });
      assert.ok(resumed.authorization, 'token resume needs no limiter and keeps working');
      const guest = await (await gw.connect()).request('auth_sign_up', { name: 'Local limits' });
      assert.ok(guest.authorization, 'sign-up falls back to per-instance limits');
      redis = await startRedis(dir, redis.port);
      // ioredis reconnects with a backoff of up to 2 s.
      await eventually(async () => (await client.request('auth_sign_in', { email, password: PASSWORD })).authorization, {
        what: 'sign-in to be served again once Redis is back',
      });
    } finally {
      await gw.close();
      redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('RATE_LIMITS=off lifts every limit and says so loudly at start', async () => {
    const gw = await startGateway({ RATE_LIMITS: 'off', LIMIT_SIGNIN_FAIL_EMAIL_IP: '1/600', LIMIT_SIGNUP_IP: '1/600' });
    try {
      assert.ok(gw.logs.some((l) => Number(l.level) >= 40 && /RATE_LIMITS=off/.test(String(l.msg))));
      const client = await gw.connect();
      const email = uniqueEmail('off');
      await person(gw, { client, email, password: PASSWORD, name: 'Off' });
      await guest(gw, 'Second', { client });
      for (let i = 0; i < 5; i++) await client.request('auth_sign_in', { email, password: 'wrong password' });
      assert.ok(ok(await client.request('auth_sign_in', { email, password: PASSWORD })).authorization);
    } finally {
      await gw.close();
    }
  });
});

describe('invite enumeration limits', () => {
  it('limits invite lookups per IP and per user, and uses per user', async () => {
    const gw = await startGateway({
      CLIENT_IP_HEADER: 'x-forwarded-for', TRUSTED_PROXIES: '2', LIMIT_INVITE_LOOKUP_IP: '3/60', LIMIT_INVITE_LOOKUP_USER: '2/60', LIMIT_INVITE_USE_USER: '2/60',
    });
    try {
      const scraper = await from(gw, '203.0.113.80');
      const codes = ['AAAAAAAAAA', 'BBBBBBBBBB', 'CCCCCCCCCC', 'DDDDDDDDDD'];
      const answers = [];
      for (const invite of codes) answers.push(code(await scraper.request('auth_lookup_invite', { code: invite })));
      assert.deepEqual(answers, [404, 404, 404, 429], 'per IP');

      const user = await from(gw, '203.0.113.81');
      await guest(gw, 'Scraper', { client: user });
      const userAnswers = [];
      for (const invite of codes.slice(0, 3)) userAnswers.push(code(await user.request('auth_lookup_invite', { code: invite })));
      assert.deepEqual(userAnswers, [404, 404, 429], 'per user');
      const uses = [];
      for (const invite of codes.slice(0, 3)) uses.push(code(await user.request('auth_use_invite', { code: invite })));
      assert.deepEqual(uses, [404, 404, 429], 'uses per user');
    } finally {
      await gw.close();
    }
  });
});
