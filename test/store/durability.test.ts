/**
 * Postgres is the record: losing Redis's data signs nobody out, and with Redis
 * down, Authorize, GetSessions and revocation still work from Postgres.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../../scripts/stack.mjs';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const PASSWORD = 'durable password';

describe('live state durability', () => {
  let dir: string;
  let redis: RedisServer;
  let gw: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osmium-redis-'));
    redis = await startRedis(dir);
    gw = await startGateway({ REDIS_URL: redis.url });
  });
  after(async () => {
    await gw.close();
    redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function flushAll() {
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();
  }

  it('keeps every valid session valid after FLUSHALL, and rebuilds the cache', async () => {
    const email = uniqueEmail('flush');
    const a = await gw.connect();
    const first = await a.call('auth_sign_up', { email, password: PASSWORD, name: 'Flushed' });
    const b = await gw.connect();
    const second = await b.call('auth_sign_in', { email, password: PASSWORD });
    const revokedLater = await (await gw.connect()).call('auth_sign_in', { email, password: PASSWORD });
    await a.call('auth_revoke_sessions', { session_ids: [revokedLater.authorization!.session_id!] });

    await flushAll();

    const c = await gw.connect();
    const resumed = await c.call('auth_authorize', { token: first.authorization!.token! });
    assert.equal(resumed.authorization!.session_id!.toString(), first.authorization!.session_id!.toString());
    const refused = await c.request('auth_authorize', { token: revokedLater.authorization!.token! });
    assert.equal(refused.error?.error_code, ErrorCode.FORBIDDEN, 'a revoked session stays revoked');
    const list = await c.call('auth_get_sessions', {});
    assert.deepEqual(
      list.sessions!.sessions!.map((s) => s.id!.toString()).sort(),
      [first.authorization!.session_id!.toString(), second.authorization!.session_id!.toString()].sort(),
    );
    const probe = new Redis(redis.url);
    const keys = await probe.keys('*');
    probe.disconnect();
    assert.ok(keys.some((k) => k.includes(`s:{${first.authorization!.session_id!.toString()}}`)), 'the cache rebuilt itself');

    // Revocation still reaches live sockets after the flush.
    await c.call('auth_revoke_sessions', { session_ids: [second.authorization!.session_id!] });
    assert.equal((await b.nextUpdate()).session_deleted?.session_id?.toString(), second.authorization!.session_id!.toString());
    assert.equal((await b.closed).code, CloseCode.SESSION_REVOKED);
  });

  it('keeps a revocation when Redis stops taking writes but still serves stale reads', async () => {
    const email = uniqueEmail('paused');
    const a = await gw.connect();
    await a.call('auth_sign_up', { email, password: PASSWORD, name: 'Paused' });
    const victim = await (await gw.connect()).call('auth_sign_in', { email, password: PASSWORD });
    await (await gw.connect()).call('auth_authorize', { token: victim.authorization!.token! }); // cached as valid
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    await a.call('auth_revoke_sessions', { session_ids: [victim.authorization!.session_id!] });
    const during = await (await gw.connect()).request('auth_authorize', { token: victim.authorization!.token! });
    assert.equal(during.error?.error_code, ErrorCode.FORBIDDEN, 'refused while the tombstone is not written');
    await sleep(3_500); // pause over, tombstone retried by the flush loop
    const probe = await admin.get(`${gw.app.config.REDIS_PREFIX}s:{${victim.authorization!.session_id!.toString()}}`);
    admin.disconnect();
    assert.equal(probe, 'r', 'the tombstone reached Redis after the pause');
  });

  it('works from Postgres while Redis is down, and catches up when it returns', async () => {
    const email = uniqueEmail('down');
    const a = await gw.connect();
    const keep = await a.call('auth_sign_up', { email, password: PASSWORD, name: 'Outage' });
    const victimSocket = await gw.connect();
    const victim = await victimSocket.call('auth_sign_in', { email, password: PASSWORD });
    // Warm the cache with the victim's session, so a stale "valid" entry exists.
    await (await gw.connect()).call('auth_authorize', { token: victim.authorization!.token! });

    redis.stop();
    await sleep(300);

    const b = await gw.connect();
    const resumed = await b.call('auth_authorize', { token: keep.authorization!.token! });
    assert.ok(resumed.authorization, 'Authorize works from Postgres');
    const list = await b.call('auth_get_sessions', {});
    assert.equal(list.sessions!.sessions!.length, 2, 'GetSessions works from Postgres');
    await b.call('auth_revoke_sessions', { session_ids: [victim.authorization!.session_id!] });
    assert.equal((await victimSocket.closed).code, CloseCode.SESSION_REVOKED, 'local sockets are closed at once');
    const refused = await (await gw.connect()).request('auth_authorize', { token: victim.authorization!.token! });
    assert.equal(refused.error?.error_code, ErrorCode.FORBIDDEN, 'revocation took effect while Redis was down');

    redis = await startRedis(dir, redis.port);
    // Give ioredis time to reconnect (retry backoff up to 2 s) and reconcile.
    let refusedAfter;
    for (let i = 0; i < 40; i++) {
      await sleep(100);
      refusedAfter = await (await gw.connect()).request('auth_authorize', { token: victim.authorization!.token! });
      if (refusedAfter.error?.error_code !== ErrorCode.FORBIDDEN) break;
    }
    assert.equal(refusedAfter!.error?.error_code, ErrorCode.FORBIDDEN, 'still revoked once Redis is back');
    const again = await (await gw.connect()).call('auth_authorize', { token: keep.authorization!.token! });
    assert.ok(again.authorization);
  });
});
