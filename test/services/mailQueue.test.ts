/** The mail queue on its own: retries with backoff, gives up after the schedule, drains on close. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { MailService, type Mail } from '../../src/services/mail.js';
import { eventually } from '../helpers/eventually.js';
import { TestSmtp } from '../helpers/smtp.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, log: createLogger({ level: 'debug', pretty: false, destination }) };
}

const mail = (to: string): Mail => ({ to, kind: 'test', subject: 'hello 123456', text: 'hello\n\n123456\n' });

describe('mail queue', () => {
  let smtp: TestSmtp;
  before(async () => {
    smtp = await TestSmtp.start();
  });
  after(() => smtp.close());

  it('retries on the schedule, then drops the mail with an error log', async () => {
    const { lines, log } = capture();
    const service = new MailService({ smtpUrl: smtp.url, from: 'a@b.test', outboxDir: '/nonexistent', retryDelaysMs: [20, 20], log });
    smtp.failNext = 3;
    service.send(mail('dropped@example.test'));
    await eventually(() => service.counts.dropped > 0, { what: 'the mail to be dropped after its retries' });
    assert.deepEqual(service.counts, { sent: 0, failedAttempts: 3, dropped: 1 });
    assert.equal(lines.filter((l) => l.msg === 'mail send failed; will retry').length, 2);
    assert.equal(lines.filter((l) => l.msg === 'mail dropped: every attempt failed').length, 1);
    assert.equal(smtp.mailsTo('dropped@example.test').length, 0);
    assert.ok(!JSON.stringify(lines).includes('123456'), 'neither subject nor text is logged');
    await service.close();
  });

  it('close sends what is queued, drops pending retries and returns promptly', async () => {
    const { lines, log } = capture();
    const service = new MailService({ smtpUrl: smtp.url, from: 'a@b.test', outboxDir: '/nonexistent', retryDelaysMs: [60_000], log });
    smtp.failNext = 1;
    service.send(mail('retrying@example.test'));
    await eventually(() => service.counts.failedAttempts > 0, { what: 'the first attempt to fail' });
    service.send(mail('queued@example.test'));
    // The retry is a minute away: close must not wait for it.
    const closed = await Promise.race([
      service.close().then(() => 'closed'),
      // unref: this deadline must not keep the test process alive once close has answered.
      new Promise<string>((resolve) => setTimeout(resolve, 30_000, 'still waiting after 30 s').unref()),
    ]);
    assert.equal(closed, 'closed', 'does not wait for the retry');
    assert.equal(smtp.mailsTo('queued@example.test').length, 1);
    assert.equal(service.counts.dropped, 1);
    assert.ok(lines.some((l) => l.msg === 'mails dropped at shutdown: not sent yet' && l.mails === 1));
    service.send(mail('late@example.test'));
    assert.equal(service.counts.dropped, 2, 'nothing is queued after close');
  });
});
