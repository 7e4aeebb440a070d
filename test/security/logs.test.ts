/** Secrets never reach the logs: passwords, tokens and codes are redacted at every level. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger.js';
import { person } from '../helpers/accounts.js';
import { codeOf, TestSmtp } from '../helpers/smtp.js';
import { startGateway, uniqueEmail } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

describe('log redaction', () => {
  it('redacts secret fields wherever they sit in a logged object', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'trace', pretty: false, destination: new Writable({ write: (c, _e, done) => { lines.push(String(c)); done(); } }) });
    log.info({ password: 'p1', token: 't1', request: { password: 'p2', token: 't2', code: '123456', totp: '111111', confirm: { code: '654321', new_password: 'p3' } } }, 'x');
    log.info({ user: { secret: 's1', current_password: 'p4' } }, 'y');
    const text = lines.join('');
    for (const secret of ['p1', 't1', 'p2', 't2', '123456', '111111', '654321', 'p3', 's1', 'p4']) assert.ok(!text.includes(`"${secret}"`), secret);
  });

  it('keeps the RPC code of a refusal and the SQLSTATE of a failed query: only secrets are redacted, not every key named code', async () => {
    const gw = await startGateway({ LOG_LEVEL: 'debug' });
    try {
      const client = await gw.connect();
      const email = uniqueEmail('codes');
      await person(gw, { client, email, password: 'the password 1', name: 'Codes' });
      await client.request('auth_sign_in', { email, password: 'not the password' });
      const refusal = gw.logs.find((l) => l.msg === 'request refused' && l.method === 'auth_sign_in');
      assert.equal(refusal?.code, 401, 'the refusal names its RPC code');

      await gw.app.db.query(`
        CREATE FUNCTION refuse_log_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the log test' USING ERRCODE = 'P0001'; END $$;
        CREATE TRIGGER refuse_log_session BEFORE INSERT ON sessions FOR EACH ROW WHEN (NEW.device_type = 'log-me') EXECUTE FUNCTION refuse_log_session();`);
      const failing = await gw.connect();
      await failing.call('core_initialize', { device_type: 'log-me' });
      assertRpcError((await failing.request('auth_sign_in', { email, password: 'the password 1' })), 500);
      const failure = gw.logs.find((l) => l.msg === 'request failed' && l.method === 'auth_sign_in');
      assert.equal((failure?.err as { code?: string })?.code, 'P0001', 'the Postgres SQLSTATE is in the log line');
    } finally {
      await gw.close();
    }
  });

  it('keeps passwords, tokens and mailed codes out of every log line, even at trace level', async () => {
    const smtp = await TestSmtp.start();
    const gw = await startGateway({ LOG_LEVEL: 'trace', SMTP_URL: smtp.url });
    const secrets: string[] = [];
    try {
      const email = uniqueEmail('logs');
      const password = 'Sup3r-secret-passphrase';
      secrets.push(password);
      const client = await gw.connect();
      const signUp = await person(gw, { client, email, password, name: 'Logged' });
      secrets.push(signUp.authorization!.token!);
      const signIn = await client.call('auth_sign_in', { email, password });
      secrets.push(signIn.authorization!.token!);
      await client.request('auth_sign_in', { email, password: `${password}-wrong` });
      await client.call('auth_authorize', { token: signIn.authorization!.token! });
      await client.request('auth_authorize', { token: `${signIn.authorization!.token!}x` });
      await client.request('auth_sign_up', { email, password: 'short', name: 'x' });
      const verifyCode = codeOf(await smtp.next(email));
      secrets.push(verifyCode);
      await client.call('auth_verify_email', { email, code: verifyCode });
      await client.call('auth_reset_password', { email });
      const resetCode = codeOf(await smtp.next(email));
      secrets.push(resetCode, 'Another-secret-passphrase');
      await client.call('auth_reset_password', { email, confirm: { code: resetCode, new_password: 'Another-secret-passphrase' } });
    } finally {
      await gw.close();
      await smtp.close();
    }
    const text = gw.logs.map((l) => JSON.stringify(l)).join('\n');
    assert.ok(gw.logs.some((l) => l.msg === 'request received' && (l.request as { password?: string })?.password === '[redacted]'), 'request payloads are logged at trace level, redacted');
    for (const secret of secrets) assert.ok(!text.includes(secret), `a secret reached the logs: ${secret.slice(0, 12)}...`);
  });
});
