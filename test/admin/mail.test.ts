/** `npm run admin -- mail test <address>`: one mail now through the configured SMTP server. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAdmin } from '../helpers/admin.js';
import { TestSmtp } from '../helpers/smtp.js';
import { createDatabase } from '../helpers/stack.js';

describe('admin mail', () => {
  let smtp: TestSmtp;
  let databaseUrl: string;
  before(async () => {
    smtp = await TestSmtp.start();
    databaseUrl = await createDatabase();
  });
  after(() => smtp.close());

  const admin = (args: string[], env: Record<string, string>) => runAdmin(args, { DATABASE_URL: databaseUrl, ...env });

  it('sends a test mail and prints where it went', async () => {
    const { code, stdout, stderr } = await admin(['mail', 'test', 'ops@example.test'], { SMTP_URL: smtp.url, MAIL_FROM: 'Ops <ops@osmium.test>' });
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as Record<string, string>;
    assert.equal(out.to, 'ops@example.test');
    assert.equal(out.via, 'smtp');
    assert.equal(out.host, `smtp://127.0.0.1:${smtp.port}`);
    assert.match(out.messageId ?? '', /@/);
    const [mail] = smtp.mailsTo('ops@example.test');
    assert.equal(mail?.subject, 'Osmium gateway test mail');
    assert.match(mail!.raw, /^From: Ops <ops@osmium\.test>/m);
  });

  it('fails with exit code 1 when the server refuses', async () => {
    smtp.failNext = 1;
    const { code, stderr } = await admin(['mail', 'test', 'ops@example.test'], { SMTP_URL: smtp.url });
    assert.equal(code, 1);
    assert.match(stderr, /^error: .*451/m);
  });

  it('refuses a bad address with exit code 2', async () => {
    assert.equal((await admin(['mail', 'test', 'not-an-address'], { SMTP_URL: smtp.url })).code, 2);
  });
});
