/** Without SMTP_URL every mail is an .eml file in MAIL_OUTBOX_DIR, and the flows still work from it. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { codeOf, parseMail } from '../helpers/smtp.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

function waitForFiles(dir: string, count: number): Promise<string[]> {
  return eventually(
    async () => {
      const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).sort();
      return files.length >= count ? files : undefined;
    },
    { what: `${count} .eml files in ${dir}` },
  );
}

describe('mail outbox (no SMTP_URL)', () => {
  let dir: string;
  let gw: TestGateway;
  before(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'osm-outbox-')), 'outbox'); // not there yet: created on first mail
    gw = await startGateway({ MAIL_OUTBOX_DIR: dir, MAIL_FROM: 'Dev <dev@localhost>' });
  });
  after(async () => {
    await gw.close();
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('writes each mail as an .eml file with the code line, logs the file but never the code', async () => {
    const email = uniqueEmail('outbox');
    const { client } = await person(gw, { email, password: 'outbox password', name: 'Dev' });
    const [file] = await waitForFiles(dir, 1);
    const path = join(dir, file!);
    assert.match(file!, /verify_email/);
    assert.equal((await stat(path)).mode & 0o777, 0o600, 'only the owner may read a live code');
    const raw = await readFile(path, 'utf8');
    assert.match(raw, /^From: Dev <dev@localhost>$/m);
    assert.match(raw, new RegExp(`^To: ${email.replace(/\./g, '\\.')}$`, 'm'));
    const mail = { to: [email], raw, ...(await parseMail(raw)) };
    const code = codeOf(mail);
    assert.match(raw, new RegExp(`^${code}$`, 'm'), 'the code alone on its own line');

    const logged = gw.logs.find((l) => l.msg === 'mail sent' && l.to === email);
    assert.equal(logged?.via, 'outbox');
    assert.equal(logged?.file, path);
    assert.ok(gw.logs.some((l) => l.msg === 'mail destination' && String(l.mail).includes(dir)));
    const leaks = gw.logs.filter((l) => new RegExp(`\\b${code}\\b`).test(JSON.stringify(l)));
    assert.deepEqual(leaks, [], 'no log line carries the code');

    await client.call('auth_verify_email', { email, code });
    assert.equal((await gw.app.repos.users.byEmail(email))!.emailVerified, true);

    await client.call('auth_reset_password', { email });
    const files = await waitForFiles(dir, 2);
    const reset = files.find((f) => f.includes('reset_password'));
    assert.ok(reset, 'the reset mail is a file too');
  });
});
