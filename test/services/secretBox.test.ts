/** Encryption at rest of TOTP secrets: AES-256-GCM envelopes, the key ring, and the embedded mode's generated key. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SecretBox, SecretBoxError } from '../../src/services/secretBox.js';
import { loadTotpKeys, TOTP_KEY_FILE } from '../../src/store/totpKeyFile.js';

const secret = Buffer.from('12345678901234567890');

describe('SecretBox', () => {
  it('seals and opens; every seal differs (random IV); the envelope names its key, never the secret', () => {
    const box = new SecretBox([randomBytes(32)]);
    const a = box.seal(secret, 'totp:1');
    const b = box.seal(secret, 'totp:1');
    assert.notEqual(a, b);
    assert.deepEqual(box.open(a, 'totp:1'), secret);
    assert.ok(a.startsWith(`v1.${box.currentKid}.`));
    assert.ok(!a.includes(secret.toString('base64url')));
  });

  it('refuses another context (another account\'s row), a tampered envelope and an unknown key', () => {
    const box = new SecretBox([randomBytes(32)]);
    const sealed = box.seal(secret, 'totp:1');
    assert.throws(() => box.open(sealed, 'totp:2'), SecretBoxError);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    assert.throws(() => box.open([...parts.slice(0, 3), body.toString('base64url')].join('.'), 'totp:1'), SecretBoxError);
    assert.throws(() => new SecretBox([randomBytes(32)]).open(sealed, 'totp:1'), /not in TOTP_ENCRYPTION_KEY/);
  });

  it('rotates: the first key seals, older keys still open', () => {
    const oldKey = randomBytes(32);
    const sealedOld = new SecretBox([oldKey]).seal(secret, 'c');
    const ring = new SecretBox([randomBytes(32), oldKey]);
    assert.deepEqual(ring.open(sealedOld, 'c'), secret);
    assert.equal(ring.isCurrent(sealedOld), false);
    assert.equal(ring.isCurrent(ring.seal(secret, 'c')), true);
  });
});

describe('TOTP keys', () => {
  it('come from TOTP_ENCRYPTION_KEY, newest first', async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const ring = await loadTotpKeys({ TOTP_ENCRYPTION_KEY: `${a.toString('base64')},${b.toString('base64')}`, mode: 'servers', dataDir: '/nonexistent' });
    assert.deepEqual(ring?.keys, [a, b]);
  });

  it('server mode without the setting has none (TOTP unavailable rather than a key per instance)', async () => {
    assert.equal(await loadTotpKeys({ TOTP_ENCRYPTION_KEY: undefined, mode: 'servers', dataDir: '/nonexistent' }), null);
  });

  it('embedded mode generates one under DATA_DIR (mode 0600) and keeps it across restarts', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'totpkey-')), 'data');
    const first = await loadTotpKeys({ TOTP_ENCRYPTION_KEY: undefined, mode: 'embedded', dataDir });
    const again = await loadTotpKeys({ TOTP_ENCRYPTION_KEY: undefined, mode: 'embedded', dataDir });
    assert.equal(first?.keys[0]?.length, 32);
    assert.deepEqual(again?.keys, first?.keys);
    const file = join(dataDir, TOTP_KEY_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
  });
});
