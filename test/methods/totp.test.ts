/**
 * TOTP two-factor authentication over a real socket: setup and its URL,
 * enabling with a code (backup codes shown once), sign-in answers, codes
 * accepted once with ±1 step of drift, backup codes used once, turning it
 * off, the guess limits under concurrent guesses, and secrets encrypted at
 * rest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuditKind } from '../../src/domain/audit.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { INVALID_TOTP, TOTP_NEEDS_VERIFIED_EMAIL, TOTP_REQUIRED } from '../../src/services/accountSecurity.js';
import { RECENT_SIGN_IN_REQUIRED } from '../../src/services/recentSignIn.js';
import { assertRpcError, count } from '../helpers/results.js';
import { MASKED_BACKUP_CODE, TOTP_CODE_REFUSED } from '../../src/services/totp.js';
import { ageSignIns, awayFromStepBoundary, codeAt, guest, newTotpKey, person, STRONG_PASSWORD, totpOf } from '../helpers/accounts.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

describe('TOTP two-factor authentication', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ TOTP_ENCRYPTION_KEY: newTotpKey(), TOTP_ISSUER: 'Osmium Test' });
  });
  after(async () => {
    await gw.close();
  });

  async function signIn(email: string, password: string, totp?: string) {
    const client = await gw.connect();
    const r = await client.request('auth_sign_in', totp === undefined ? { email, password } : { email, password, totp });
    return { client, r };
  }

  describe('setup', () => {
    it('answers a pending 160-bit secret as an otpauth URL with the issuer and the email; a new call replaces it', async () => {
      const { client, email } = await person(gw, { tag: 'setup', name: 'Setup', verifiedWith: 'database' });
      const first = (await client.call('settings_setup_totp', { enabled: true })).totp!;
      assert.equal(first.enabled, false);
      assert.deepEqual(first.backup_codes, []);
      assert.ok(first.url!.startsWith(`otpauth://totp/Osmium%20Test:${encodeURIComponent(email)}?`), first.url!);
      assert.equal(new URL(first.url!).searchParams.get('issuer'), 'Osmium Test');
      assert.match(new URL(first.url!).searchParams.get('secret')!, /^[A-Z2-7]{32}$/);
      const parsed = totpOf(first.url!);
      assert.deepEqual([parsed.issuer, parsed.label, parsed.digits, parsed.period, parsed.algorithm], ['Osmium Test', email, 6, 30, 'SHA1']);
      assert.equal(parsed.secret.bytes.length, 20, '160-bit secret');

      const second = (await client.call('settings_setup_totp', { enabled: true })).totp!;
      assert.notEqual(totpOf(second.url!).secret.base32, totpOf(first.url!).secret.base32);
      await awayFromStepBoundary();
      const stale = await client.request('settings_setup_totp', { enabled: true, code: codeAt(first.url!) });
      assertRpcError(stale, ErrorCode.BAD_REQUEST, TOTP_CODE_REFUSED); // the replaced secret no longer works
      const account = (await client.call('settings_get_account', {})).account!;
      assert.equal(account.totp_enabled, false);
    });

    it('a guest (no address to recover it by) cannot turn it on: 403, two-factor needs a verified address', async () => {
      const { client } = await guest(gw, 'Guesty McGuest');
      const r = await client.request('settings_setup_totp', { enabled: true });
      assertRpcError(r, ErrorCode.FORBIDDEN, TOTP_NEEDS_VERIFIED_EMAIL);
    });

    it('a wrong code is 400 and leaves TOTP off; the right one turns it on with 10 backup codes, shown once', async () => {
      const { client, email } = await person(gw, { tag: 'enable', name: 'Enable', verifiedWith: 'database' });
      const url = (await client.call('settings_setup_totp', { enabled: true })).totp!.url!;
      await awayFromStepBoundary();
      const right = codeAt(url);
      const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
      const refused = await client.request('settings_setup_totp', { enabled: true, code: wrong });
      assertRpcError(refused, ErrorCode.BAD_REQUEST);
      assert.equal((await client.call('settings_get_account', {})).account!.totp_enabled, false);

      const on = (await client.call('settings_setup_totp', { enabled: true, code: right })).totp!;
      assert.equal(on.enabled, true);
      assert.equal(on.url ?? undefined, undefined, 'no URL once on');
      assert.equal(on.backup_codes!.length, 10);
      const codes = on.backup_codes!.map((c) => c.code!);
      assert.equal(new Set(codes).size, 10);
      for (const c of on.backup_codes!) {
        assert.match(c.code!, /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
        assert.equal(c.used, false);
      }
      assert.equal((await client.call('settings_get_account', {})).account!.totp_enabled, true);

      const again = await client.request('settings_setup_totp', { enabled: true, code: codeAt(url, 1) });
      assertRpcError(again, ErrorCode.CONFLICT, undefined, 'already on');

      // Only hashes are stored: no stored row contains a code.
      const { rows } = await gw.app.db.query(`SELECT encode(code_hash, 'hex') AS h FROM totp_backup_codes WHERE user_id = (SELECT id FROM users WHERE email = $1)`, [email]);
      assert.equal(rows.length, 10);
      const stored = rows.map((r) => r.h as string).join(' ');
      for (const code of codes) assert.ok(!stored.includes(Buffer.from(code).toString('hex')));
    });

    it('while on, setup without a code shows the backup codes masked with their used flags and keeps the secret', async () => {
      const account = await person(gw, { tag: 'masked', verifiedWith: 'database', totp: true });
      await (await signIn(account.email, account.password, account.backupCodes[3])).r.authorization;
      const view = (await account.client.call('settings_setup_totp', { enabled: true })).totp!;
      assert.equal(view.enabled, true);
      assert.equal(view.url ?? undefined, undefined);
      assert.deepEqual(view.backup_codes!.map((c) => c.code), Array(10).fill(MASKED_BACKUP_CODE));
      assert.deepEqual(view.backup_codes!.map((c) => c.used), [false, false, false, true, false, false, false, false, false, false]);
      // The secret stayed: the authenticator's codes still sign in.
      const { r } = await signIn(account.email, account.password, codeAt(account.url));
      assert.ok(r.authorization);
    });

    it('keeps the secret encrypted at rest, bound to its account', async () => {
      const account = await person(gw, { tag: 'atrest', verifiedWith: 'database', totp: true });
      const { rows } = await gw.app.db.query(`SELECT secret FROM totp_credentials WHERE user_id = $1`, [account.userId]);
      const sealed = rows[0].secret as string;
      assert.match(sealed, /^v1\.[0-9a-f]{16}\.[\w-]+\.[\w-]+$/);
      const secret = totpOf(account.url).secret;
      assert.ok(!sealed.includes(secret.base32) && !sealed.includes(secret.hex) && !sealed.includes(Buffer.from(secret.bytes).toString('base64url')));
      // Moved to another account's row, it does not open: that account's sign-in answers 503, never a pass.
      const other = await person(gw, { tag: 'atrest2', verifiedWith: 'database', totp: true });
      await gw.app.db.query(`UPDATE totp_credentials SET secret = $2 WHERE user_id = $1`, [other.userId, sealed]);
      const { r } = await signIn(other.email, other.password, codeAt(account.url));
      assertRpcError(r, ErrorCode.UNAVAILABLE);
    });
  });

  describe('sign-in', () => {
    it('right password: no code → 401 totp required, wrong code → 401 invalid totp, right code → signed in', async () => {
      const account = await person(gw, { tag: 'signin', verifiedWith: 'database', totp: true });
      const none = await signIn(account.email, account.password);
      assertRpcError(none.r, ErrorCode.UNAUTHENTICATED, TOTP_REQUIRED);
      await awayFromStepBoundary();
      const right = codeAt(account.url);
      const wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
      const bad = await signIn(account.email, account.password, wrong);
      assertRpcError(bad.r, ErrorCode.UNAUTHENTICATED, INVALID_TOTP);
      const ok = await signIn(account.email, account.password, right);
      assert.ok(ok.r.authorization, 'signed in');
      assert.ok((await ok.client.call('auth_get_sessions', {})).sessions, 'the socket is signed in');
    });

    it('a wrong password gets the usual answer whatever the code, and does not spend the code', async () => {
      const account = await person(gw, { tag: 'wrongpw', verifiedWith: 'database', totp: true });
      await awayFromStepBoundary();
      const right = codeAt(account.url);
      for (const totp of [undefined, right, '000000']) {
        const { r } = await signIn(account.email, 'not the password at all', totp);
        assertRpcError(r, ErrorCode.UNAUTHENTICATED, 'wrong email or password');
      }
      const { r } = await signIn(account.email, account.password, right);
      assert.ok(r.authorization, 'the code was never evaluated, so it still works');
    });

    it('accepts a code once: the same code again is refused (replay)', async () => {
      const account = await person(gw, { tag: 'replay', verifiedWith: 'database', totp: true });
      await awayFromStepBoundary();
      const code = codeAt(account.url);
      assert.ok((await signIn(account.email, account.password, code)).r.authorization);
      const replay = await signIn(account.email, account.password, code);
      assertRpcError(replay.r, ErrorCode.UNAUTHENTICATED, INVALID_TOTP);
      // Nor an older one (a step below the last accepted), though within the drift window.
      const older = await signIn(account.email, account.password, codeAt(account.url, -1));
      assertRpcError(older.r, ErrorCode.UNAUTHENTICATED, INVALID_TOTP);
    });

    it('tolerates one step of clock drift ahead, not two', async () => {
      const account = await person(gw, { tag: 'drift', verifiedWith: 'database', totp: true });
      await awayFromStepBoundary();
      const twoAhead = await signIn(account.email, account.password, codeAt(account.url, 2));
      assertRpcError(twoAhead.r, ErrorCode.UNAUTHENTICATED, INVALID_TOTP);
      const oneAhead = await signIn(account.email, account.password, codeAt(account.url, 1));
      assert.ok(oneAhead.r.authorization);
    });

    it('tolerates one step of clock drift behind, not two', async () => {
      const { client, email } = await person(gw, { tag: 'driftback', name: 'Drift', verifiedWith: 'database' });
      const url = (await client.call('settings_setup_totp', { enabled: true })).totp!.url!;
      await awayFromStepBoundary();
      const twoBehind = await client.request('settings_setup_totp', { enabled: true, code: codeAt(url, -2) });
      assertRpcError(twoBehind, ErrorCode.BAD_REQUEST);
      await client.call('settings_setup_totp', { enabled: true, code: codeAt(url, -1) });
      assert.ok((await signIn(email, STRONG_PASSWORD, codeAt(url))).r.authorization);
    });

    it('an unused backup code signs in once, with or without dashes and in any case; used twice it is refused', async () => {
      const account = await person(gw, { tag: 'backup', verifiedWith: 'database', totp: true });
      const code = account.backupCodes[0]!;
      const first = await signIn(account.email, account.password, code.replace(/-/g, '').toUpperCase());
      assert.ok(first.r.authorization);
      const second = await signIn(account.email, account.password, code);
      assertRpcError(second.r, ErrorCode.UNAUTHENTICATED, INVALID_TOTP);
      assert.ok((await signIn(account.email, account.password, account.backupCodes[1])).r.authorization, 'another code still works');
      const { rows } = await gw.app.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE user_id = $1 AND kind = $2`, [account.userId, AuditKind.BACKUP_CODE_USED]);
      assert.equal(rows[0].n, 2);
    });

    it('two sign-ins racing with one code: exactly one gets in', async () => {
      const account = await person(gw, { tag: 'race', verifiedWith: 'database', totp: true });
      await awayFromStepBoundary();
      const code = codeAt(account.url);
      const backup = account.backupCodes[5]!;
      const results = await Promise.all([
        ...Array.from({ length: 4 }, () => signIn(account.email, account.password, code)),
        ...Array.from({ length: 4 }, () => signIn(account.email, account.password, backup)),
      ]);
      const totpWins = results.slice(0, 4).filter((x) => x.r.authorization).length;
      const backupWins = results.slice(4).filter((x) => x.r.authorization).length;
      assert.equal(totpWins, 1, 'the TOTP code worked once');
      assert.equal(backupWins, 1, 'the backup code worked once');
    });
  });

  describe('turning it off', () => {
    it('needs a right TOTP or unused backup code (400 otherwise); then sign-in needs the password only', async () => {
      const account = await person(gw, { tag: 'off', verifiedWith: 'database', totp: true });
      const wrong = await account.client.request('settings_setup_totp', { enabled: false, code: '1234-5678-9abc' });
      assertRpcError(wrong, ErrorCode.BAD_REQUEST, TOTP_CODE_REFUSED);
      const none = await account.client.request('settings_setup_totp', { enabled: false });
      assertRpcError(none, ErrorCode.BAD_REQUEST);
      const off = (await account.client.call('settings_setup_totp', { enabled: false, code: account.backupCodes[9] })).totp!;
      assert.equal(off.enabled, false);
      assert.equal((await account.client.call('settings_get_account', {})).account!.totp_enabled, false);
      assert.ok((await signIn(account.email, account.password)).r.authorization);
      const { rows } = await gw.app.db.query(`SELECT (SELECT count(*) FROM totp_credentials WHERE user_id = $1)::int AS secrets, (SELECT count(*) FROM totp_backup_codes WHERE user_id = $1)::int AS codes`, [account.userId]);
      assert.deepEqual(rows[0], { secrets: 0, codes: 0 }, 'secret and backup codes deleted');
    });

    it('works with a TOTP code too', async () => {
      const account = await person(gw, { tag: 'offtotp', verifiedWith: 'database', totp: true });
      await awayFromStepBoundary();
      const off = (await account.client.call('settings_setup_totp', { enabled: false, code: codeAt(account.url) })).totp!;
      assert.equal(off.enabled, false);
    });

    it('needs a recent sign-in: a session that signed in long ago gets 403 even with a right code', async () => {
      const account = await person(gw, { tag: 'offstale', verifiedWith: 'database', totp: true });
      ageSignIns(gw, 60);
      const r = await account.client.request('settings_setup_totp', { enabled: false, code: account.backupCodes[0] });
      assertRpcError(r, ErrorCode.FORBIDDEN, new RegExp(`^${RECENT_SIGN_IN_REQUIRED}`));
      assert.equal((await account.client.call('settings_get_account', {})).account!.totp_enabled, true);
      // The backup code was not spent by the refusal.
      const fresh = await signIn(account.email, account.password, account.backupCodes[1]);
      const off = await fresh.client.call('settings_setup_totp', { enabled: false, code: account.backupCodes[0] });
      assert.equal(off.totp!.enabled, false);

      gw.clock.reset();
    });
  });
});

describe('TOTP guess limits', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ TOTP_ENCRYPTION_KEY: newTotpKey(), LIMIT_TOTP_GUESS_USER: '3/3600', LIMIT_TOTP_GUESS_IP: '1000/3600' });
  });
  after(async () => {
    await gw.close();
  });

  it('concurrent wrong codes: exactly the allowance is evaluated, the rest get 429, and then even a right code waits', async () => {
    const account = await person(gw, { tag: 'guess', verifiedWith: 'database', totp: true });
    // Turning TOTP on cleared the count. Fire 4x the allowance at once, each on its own socket.
    const clients = await Promise.all(Array.from({ length: 12 }, () => gw.connect()));
    const results = await Promise.all(clients.map((c, i) => c.request('auth_sign_in', { email: account.email, password: account.password, totp: String(100000 + i) })));
    const evaluated = results.filter((r) => r.error?.error_code === ErrorCode.UNAUTHENTICATED && r.error.error_message === INVALID_TOTP).length;
    const limited = count(results, ErrorCode.RATE_LIMITED);
    assert.equal(evaluated, 3);
    assert.equal(limited, 9);
    assert.match(results.find((r) => r.error?.error_code === ErrorCode.RATE_LIMITED)!.error!.error_message!, /too many two-factor code attempts; retry after \d+ seconds/);
    const right = await clients[0]!.request('auth_sign_in', { email: account.email, password: account.password, totp: account.backupCodes[0] });
    assertRpcError(right, ErrorCode.RATE_LIMITED);
  });

  it('turning TOTP off is guess-limited by the same count', async () => {
    const account = await person(gw, { tag: 'guessoff', verifiedWith: 'database', totp: true });
    const results = await Promise.all(Array.from({ length: 9 }, (_, i) => account.client.request('settings_setup_totp', { enabled: false, code: String(200000 + i) })));
    assert.equal(count(results, ErrorCode.BAD_REQUEST), 3);
    assert.equal(count(results, ErrorCode.RATE_LIMITED), 6);
  });
});

describe('TOTP guess limit per IP', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ TOTP_ENCRYPTION_KEY: newTotpKey(), LIMIT_TOTP_GUESS_USER: '1000/3600', LIMIT_TOTP_GUESS_IP: '6/3600' });
  });
  after(async () => {
    await gw.close();
  });

  it('counts guesses at every account from one address together', async () => {
    // Turning TOTP on took two right codes: their points went back, all 6 are left.
    const a = await person(gw, { tag: 'ipa', verifiedWith: 'database', totp: true });
    const b = await person(gw, { tag: 'ipb', verifiedWith: 'database', totp: true });
    const guesses = [a, b, a, b, a, b, a, b, a, b].map(async (account, i) => {
      const client = await gw.connect();
      return client.request('auth_sign_in', { email: account.email, password: account.password, totp: String(300000 + i) });
    });
    const results = await Promise.all(guesses);
    assert.equal(results.filter((r) => r.error?.error_message === INVALID_TOTP).length, 6);
    assert.equal(count(results, ErrorCode.RATE_LIMITED), 4);
  });
});

describe('TOTP without an encryption key (server mode)', () => {
  it('answers setup with 503 naming the setting', async () => {
    const gw = await startGateway();
    try {
      const { client } = await person(gw, { tag: 'nokey', name: 'No Key', verifiedWith: 'database' });
      const r = await client.request('settings_setup_totp', { enabled: true });
      assertRpcError(r, ErrorCode.UNAVAILABLE);
      assert.match(r.error!.error_message!, /TOTP_ENCRYPTION_KEY/);
    } finally {
      await gw.close();
    }
  });
});

describe('TOTP secrets and codes in the logs', () => {
  it('never reach a log line, even at trace level (request payloads included)', async () => {
    const gw = await startGateway({ TOTP_ENCRYPTION_KEY: newTotpKey(), LOG_LEVEL: 'trace' });
    const secrets: string[] = [];
    try {
      const account = await person(gw, { tag: 'logs', verifiedWith: 'database', totp: true });
      secrets.push(totpOf(account.url).secret.base32, ...account.backupCodes);
      await awayFromStepBoundary();
      const code = codeAt(account.url);
      secrets.push(code);
      const client = await gw.connect();
      await client.call('auth_sign_in', { email: account.email, password: account.password, totp: code });
      await client.request('auth_sign_in', { email: account.email, password: account.password, totp: account.backupCodes[2] });
      const newPassword = 'secret orchard telescope';
      secrets.push(newPassword);
      await client.call('settings_change_password', { current_password: account.password, new_password: newPassword });
      await client.call('settings_setup_totp', { enabled: false, code: account.backupCodes[3] });
    } finally {
      await gw.close();
    }
    const text = gw.logs.map((l) => JSON.stringify(l)).join('\n');
    assert.ok(gw.logs.some((l) => l.msg === 'request received' && (l.request as { totp?: string })?.totp === '[redacted]'), 'sign-in payloads are logged, totp redacted');
    assert.ok(gw.logs.some((l) => l.msg === 'request received' && (l.request as { current_password?: string })?.current_password === '[redacted]'));
    for (const secret of [...secrets, STRONG_PASSWORD]) assert.ok(!text.includes(secret), `a secret reached the logs: ${secret.slice(0, 6)}...`);
  });
});
