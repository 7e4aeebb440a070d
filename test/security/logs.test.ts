/** Secrets never reach the logs: passwords, tokens and codes are redacted at every level. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger.js';
import { startGateway, uniqueEmail } from '../helpers/stack.js';

describe('log redaction', () => {
  it('redacts secret fields wherever they sit in a logged object', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'trace', pretty: false, destination: new Writable({ write: (c, _e, done) => { lines.push(String(c)); done(); } }) });
    log.info({ password: 'p1', token: 't1', request: { password: 'p2', token: 't2', code: '123456', confirm: { code: '654321', new_password: 'p3' } } }, 'x');
    const text = lines.join('');
    for (const secret of ['p1', 't1', 'p2', 't2', '123456', '654321', 'p3']) assert.ok(!text.includes(`"${secret}"`), secret);
  });

  it('keeps passwords and tokens out of every log line, even at trace level', async () => {
    const gw = await startGateway({ LOG_LEVEL: 'trace' });
    const secrets: string[] = [];
    try {
      const email = uniqueEmail('logs');
      const password = 'Sup3r-secret-passphrase';
      secrets.push(password);
      const client = await gw.connect();
      const signUp = await client.call('auth_sign_up', { email, password, name: 'Logged' });
      secrets.push(signUp.authorization!.token!);
      const signIn = await client.call('auth_sign_in', { email, password });
      secrets.push(signIn.authorization!.token!);
      await client.request('auth_sign_in', { email, password: `${password}-wrong` });
      await client.call('auth_authorize', { token: signIn.authorization!.token! });
      await client.request('auth_authorize', { token: `${signIn.authorization!.token!}x` });
      await client.request('auth_sign_up', { email, password: 'short', name: 'x' });
    } finally {
      await gw.close();
    }
    const text = gw.logs.map((l) => JSON.stringify(l)).join('\n');
    assert.ok(gw.logs.some((l) => l.msg === 'request received' && (l.request as { password?: string })?.password === '[redacted]'), 'request payloads are logged at trace level, redacted');
    for (const secret of secrets) assert.ok(!text.includes(secret), `a secret reached the logs: ${secret.slice(0, 12)}...`);
  });
});
