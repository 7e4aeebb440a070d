/**
 * Inputs an attacker controls: the proxy header, control characters in any
 * string field, display names that pass for someone else, and email
 * addresses that look like one another.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OsmiumClient, RpcResult } from '../../src/client/client.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { person } from '../helpers/accounts.js';
import { TestSmtp } from '../helpers/smtp.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError, code, ok } from '../helpers/results.js';

const PASSWORD = 'inputs password';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The addresses an account signed up or in from, as the gateway saw them. */
async function sourcesOf(gw: TestGateway, userId: string): Promise<string[]> {
  const { rows } = await gw.app.db.query<{ ip: string }>(`SELECT ip FROM sign_in_sources WHERE user_id = $1 ORDER BY ip`, [userId]);
  return rows.map((r) => r.ip);
}

async function signUpFrom(gw: TestGateway, forwardedFor: string): Promise<RpcResult> {
  return (await gw.connect({ 'x-forwarded-for': forwardedFor })).request('auth_sign_up', { email: uniqueEmail('xff'), password: PASSWORD, name: 'Proxied' });
}

describe('client address behind proxies', () => {
  it('reads the address the nearest proxy saw, never the entries the client wrote itself', async () => {
    // One proxy in front (TRUSTED_PROXIES=1, the default): it appends the address it saw, the rightmost entry.
    const gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', LIMIT_SIGNUP_IP: '2/3600' });
    try {
      const answers = [];
      for (const forged of ['10.9.9.1', '10.9.9.2', '10.9.9.3']) answers.push(code(await signUpFrom(gw, `${forged}, 203.0.113.5`)));
      assert.deepEqual(answers, [0, 0, ErrorCode.RATE_LIMITED], 'a forged leftmost entry does not make a new client');
      const other = await signUpFrom(gw, '203.0.113.6');
      assert.ok(other.authorization, 'another client address has its own allowance');
      assert.deepEqual(await sourcesOf(gw, other.authorization!.user!.id!.toString()), ['203.0.113.6']);
    } finally {
      await gw.close();
    }
  });

  it('with a list of proxy addresses, skips every trusted hop, and ignores the header from a peer that is not a proxy', async () => {
    const trusting = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', TRUSTED_PROXIES: 'loopback, 10.0.0.0/8' });
    try {
      const r = await signUpFrom(trusting, '192.0.2.1, 198.51.100.9, 10.1.2.3');
      assert.deepEqual(await sourcesOf(trusting, r.authorization!.user!.id!.toString()), ['198.51.100.9'], 'the first untrusted hop from the socket');
    } finally {
      await trusting.close();
    }
    const notFromProxy = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', TRUSTED_PROXIES: '10.0.0.0/8' });
    try {
      const r = await signUpFrom(notFromProxy, '198.51.100.9');
      assert.deepEqual(await sourcesOf(notFromProxy, r.authorization!.user!.id!.toString()), ['127.0.0.1'], 'the socket peer is no trusted proxy: its header is not believed');
    } finally {
      await notFromProxy.close();
    }
  });
});

describe('control characters', () => {
  it('refuses NUL and other control characters in every string field of every method with 400, before any write', async () => {
    const gw = await startGateway();
    try {
      const client = await gw.connect();
      const init = await client.request('core_initialize', { client_id: 7, device_type: 'phone\u0000', device_version: '1', app_version: '1' });
      assertRpcError(init, ErrorCode.BAD_REQUEST);
      assert.match(init.error!.error_message!, /^device_type must not contain control characters/);

      const email = uniqueEmail('nul');
      const cases: Array<[string, () => Promise<RpcResult>, RegExp]> = [
        ['app_version', () => client.request('core_initialize', { app_version: 'v\u001b[31m' }), /^app_version /],
        ['sign-up name', () => client.request('auth_sign_up', { email, password: PASSWORD, name: 'Eve\u0000' }), /^name /],
        ['sign-up email', () => client.request('auth_sign_up', { email: `${email}\u0000`, password: PASSWORD, name: 'Eve' }), /^email /],
        ['sign-in email', () => client.request('auth_sign_in', { email: `\u0085${email}`, password: PASSWORD }), /^email /],
        ['authorize token', () => client.request('auth_authorize', { token: 'a\u0000b' }), /^token /],
        ['verify code', () => client.request('auth_verify_email', { email, code: '12345\u0000' }), /^code /],
        ['reset confirm code', () => client.request('auth_reset_password', { email, confirm: { code: '1\u00002345', new_password: 'fine password' } }), /^confirm\.code /],
        ['new password', () => client.request('auth_reset_password', { email, confirm: { code: '123456', new_password: 'new\u0000password' } }), /^confirm\.new_password /],
        ['invite code', () => client.request('auth_lookup_invite', { code: 'AAAAAAAAA\u0000' }), /^code /],
      ];
      for (const [what, send, message] of cases) {
        const r = await send();
        assertRpcError(r, ErrorCode.BAD_REQUEST, undefined, what);
        assert.match(r.error!.error_message!, message, what);
      }
      assert.equal(await gw.app.repos.users.byEmail(email), null, 'no account was written');
      const { rows } = await gw.app.db.query(`SELECT 1 FROM sessions WHERE device_type LIKE '%' || chr(27) || '%' OR app_version LIKE '%' || chr(27) || '%'`);
      assert.equal(rows.length, 0);
      assert.ok(ok(await client.request('auth_sign_up', { email, password: PASSWORD, name: 'Eve' })).authorization, 'the clean request works');
    } finally {
      await gw.close();
    }
  });

  it('makes a sign-up one transaction: when the first session cannot be written, no account is left and the email stays free', async () => {
    const gw = await startGateway();
    try {
      await gw.app.db.query(`
        CREATE FUNCTION refuse_test_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'session refused by the test'; END $$;
        CREATE TRIGGER refuse_test_session BEFORE INSERT ON sessions FOR EACH ROW WHEN (NEW.device_type = 'refuse-me') EXECUTE FUNCTION refuse_test_session();`);
      const email = uniqueEmail('atomic');
      const doomed = await gw.connect();
      await doomed.call('core_initialize', { device_type: 'refuse-me' });
      const failed = await doomed.request('auth_sign_up', { email, password: PASSWORD, name: 'Atomic' });
      assertRpcError(failed, ErrorCode.INTERNAL);
      assert.equal(await gw.app.repos.users.byEmail(email), null, 'no account without its session');
      const again = await (await gw.connect()).request('auth_sign_up', { email, password: PASSWORD, name: 'Atomic' });
      assert.ok(again.authorization, 'the address is not taken');
    } finally {
      await gw.close();
    }
  });
});

describe('display names', () => {
  async function nameAnswer(client: OsmiumClient, name: string): Promise<number> {
    return code(await client.request('auth_sign_up', { name }));
  }

  it('refuses bidirectional controls and invisible characters, and keeps emoji sequences and real scripts', async () => {
    const gw = await startGateway();
    try {
      const client = await gw.connect();
      const refused = {
        'right-to-left override': 'Alice\u202Egnp.exe',
        'left-to-right isolate': '\u2066Bob\u2069',
        'right-to-left mark': 'Bob\u200F',
        'zero-width space': 'Alice\u200B',
        'word joiner': 'Al\u2060ice',
        'zero-width no-break space': 'Al\uFEFFice',
        'soft hyphen': 'Ali\u00ADce',
        'zero-width joiner after Latin': 'Alice\u200D',
        'Hangul filler': '\u3164',
        'blank Braille pattern': 'Bob\u2800',
        'tag characters after Latin': 'Bob\u{E0041}',
        'combining grapheme joiner': 'Bo\u034Fb',
      };
      for (const [what, name] of Object.entries(refused)) assert.equal(await nameAnswer(client, name), ErrorCode.BAD_REQUEST, what);
      const kept = {
        'family (ZWJ sequence)': '👨‍👩‍👧‍👦 Family',
        'technologist with skin tone': '👩🏽‍💻 dev',
        'England flag (tag sequence)': '🏴󠁧󠁢󠁥󠁮󠁧󠁿 fan',
        'flag': '🇺🇸',
        'heart with VS16': '❤️',
        'keycap': '1️⃣',
        'Persian with ZWNJ': 'می‌خواهم',
        'Devanagari with ZWJ': 'क्‍ष',
        'Chinese': '李小龍',
        'Arabic': 'محمد',
        'Latin with diacritics': 'Zoë Ñandú',
      };
      for (const [what, name] of Object.entries(kept)) assert.equal(await nameAnswer(client, name), 0, what);
    } finally {
      await gw.close();
    }
  });
});

describe('email addresses', () => {
  it('stores and mails one canonical form, finds the account from any spelling of it, and refuses lookalikes and compound forms', async () => {
    const smtp = await TestSmtp.start();
    const gw = await startGateway({ SMTP_URL: smtp.url, LIMIT_SIGNIN_FAIL_EMAIL_IP: '3/900' });
    try {
      const client = await gw.connect();
      const tag = Date.now().toString(36);
      const given = `Mixed.Case+${tag}@Example.ORG`;
      const canonical = `mixed.case+${tag}@example.org`;
      await client.call('auth_sign_up', { email: given, password: PASSWORD, name: 'Canonical' }); // the sign-up's email field is the subject: inline
      assert.equal((await gw.app.repos.users.byEmail(canonical))?.email, canonical, 'stored canonical');
      const mail = await smtp.next(canonical);
      assert.deepEqual(mail.to, [canonical], 'mailed exactly the stored address');
      assert.match(mail.raw, new RegExp(`^To: ${escape(canonical)}\r?$`, 'm'));

      for (const spelling of [`MIXED.case+${tag}@example.org`, `mixed.case+${tag}@ＥＸＡＭＰＬＥ.org`, `  mixed.case+${tag}@Example.Org  `]) {
        assert.ok(ok(await client.request('auth_sign_in', { email: spelling, password: PASSWORD })).authorization, spelling);
      }
      const idn = `user.${tag}@münchen.de`;
      await client.call('auth_sign_up', { email: idn, password: PASSWORD, name: 'IDN' });
      assert.equal((await gw.app.repos.users.byEmail(`user.${tag}@xn--mnchen-3ya.de`))?.name, 'IDN', 'IDNA domain stored in its ASCII form');
      assert.ok(ok(await client.request('auth_sign_in', { email: `user.${tag}@xn--mnchen-3ya.de`, password: PASSWORD })).authorization);
      // (The test SMTP server shows envelope domains decoded to Unicode; the header says what was sent.)
      const idnMail = await smtp.next(`user.${tag}@münchen.de`);
      assert.match(idnMail.raw, new RegExp(`^To: ${escape(`user.${tag}@xn--mnchen-3ya.de`)}\r?$`, 'm'), 'mailed the stored ASCII form');

      const refused = {
        'display name and angle brackets': `x<v.${tag}@example.org>`,
        'address list': `a,b.${tag}@example.org`,
        'quoted local part': `"a b.${tag}"@example.org`,
        'fullwidth local part': `ｍixed.case+${tag}@example.org`,
        'Cyrillic a in the local part': `\u0430lice.${tag}@example.org`,
        'decomposed accent': `e\u0301.${tag}@example.org`,
        'Kelvin sign': `\u212Aate.${tag}@example.org`,
        'dotless capital I': `\u0130.${tag}@example.org`,
        'two @': `a@b.${tag}@example.org`,
        'IP literal': `a.${tag}@[192.0.2.1]`,
        'no dot in the domain': `a.${tag}@localhost`,
      };
      for (const [what, email] of Object.entries(refused)) {
        const r = await client.request('auth_sign_up', { email, password: PASSWORD, name: 'Lookalike' });
        assertRpcError(r, ErrorCode.BAD_REQUEST, undefined, what);
        assert.match(r.error!.error_message!, /^email is not a valid email address/, what);
      }

      // Spellings share one limit key: three failures in three spellings spend the (email, IP) allowance of 3.
      const victim = `victim.${tag}@example.org`;
      await person(gw, { client, email: victim, password: PASSWORD, name: 'Victim' });
      const stranger = await gw.connect();
      for (const spelling of [`VICTIM.${tag}@example.org`, `victim.${tag}@EXAMPLE.org`, `victim.${tag}@ｅｘａｍｐｌｅ.org`]) {
        assertRpcError((await stranger.request('auth_sign_in', { email: spelling, password: 'wrong password' })), ErrorCode.UNAUTHENTICATED);
      }
      assertRpcError((await stranger.request('auth_sign_in', { email: victim, password: PASSWORD })), ErrorCode.RATE_LIMITED);
    } finally {
      await gw.close();
      await smtp.close();
    }
  });
});
