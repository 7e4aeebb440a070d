import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has working defaults with nothing set', () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 8080);
    assert.equal(config.BCRYPT_COST, 12);
    assert.equal(config.MAX_FRAME_BYTES, 65536);
    assert.equal(config.mode, 'embedded');
  });

  it('switches to server mode when DATABASE_URL is set', () => {
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://x@localhost/db' }).mode, 'servers');
  });

  const bad: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['BCRYPT_COST', '99'],
    ['LOG_LEVEL', 'loud'],
    ['MAX_FRAME_BYTES', '-1'],
    ['RATE_LIMITS', 'maybe'],
    ['WORKER_ID', '2000'],
    ['WORKERS', '0'],
    ['ENTRYPOINTS', 'no-port-here'],
    ['TRUSTED_PROXIES', '0'],
    ['TRUSTED_PROXIES', '10.0.0.0/99'],
    ['TRUSTED_PROXIES', 'my-proxy.internal'],
  ];
  for (const [name, value] of bad) {
    it(`rejects ${name}=${value} with a message naming ${name}`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(name),
      );
    });
  }
});
