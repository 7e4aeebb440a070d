/** `npm run admin -- mail test <address>`: one mail now through the configured SMTP server. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { nodeArgs } from '../helpers/entry.js';
import { TestSmtp } from '../helpers/smtp.js';
import { createDatabase } from '../helpers/stack.js';

const run = promisify(execFile);

describe('admin mail', () => {
  let smtp: TestSmtp;
  let databaseUrl: string;
  before(async () => {
    smtp = await TestSmtp.start();
    databaseUrl = await createDatabase();
  });
  after(() => smtp.close());

  const admin = (args: string[], env: Record<string, string>) =>
    run(process.execPath, [...nodeArgs('scripts/admin.ts'), ...args], { env: { ...process.env, DATABASE_URL: databaseUrl, ...env } });

  it('sends a test mail and prints where it went', async () => {
    const { stdout } = await admin(['mail', 'test', 'ops@example.test'], { SMTP_URL: smtp.url, MAIL_FROM: 'Ops <ops@osmium.test>' });
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
    await assert.rejects(admin(['mail', 'test', 'ops@example.test'], { SMTP_URL: smtp.url }), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr ?? '', /^error: .*451/m);
      return true;
    });
  });

  it('refuses a bad address with exit code 2', async () => {
    await assert.rejects(admin(['mail', 'test', 'not-an-address'], { SMTP_URL: smtp.url }), (err: { code?: number }) => err.code === 2);
  });
});
