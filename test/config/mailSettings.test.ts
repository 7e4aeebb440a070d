/** The mail settings: defaults and a bad SMTP_URL naming itself. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';
import { mailOutboxDir } from '../../src/services/mail.js';

describe('mail settings', () => {
  it('defaults: no SMTP_URL (outbox mode), a From address, the outbox under DATA_DIR unless MAIL_OUTBOX_DIR says', () => {
    const config = loadConfig({});
    assert.equal(config.SMTP_URL, undefined);
    assert.equal(mailOutboxDir(config), resolve('data/outbox'));
    assert.equal(mailOutboxDir(loadConfig({ DATA_DIR: '/srv/osm' })), '/srv/osm/outbox');
    assert.equal(mailOutboxDir(loadConfig({ DATA_DIR: '/srv/osm', MAIL_OUTBOX_DIR: '/var/mail/osm' })), '/var/mail/osm');
    assert.match(config.MAIL_FROM, /@/);
  });

  it('accepts smtp:// and smtps:// URLs, and an empty SMTP_URL means unset', () => {
    assert.equal(loadConfig({ SMTP_URL: 'smtps://user:pass@mail.example.com:465' }).SMTP_URL, 'smtps://user:pass@mail.example.com:465');
    assert.equal(loadConfig({ SMTP_URL: '' }).SMTP_URL, undefined);
  });

  it('refuses another scheme, naming the variable', () => {
    assert.throws(() => loadConfig({ SMTP_URL: 'http://mail.example.com' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /SMTP_URL="http:\/\/mail\.example\.com"/);
      return true;
    });
  });
});
