/**
 * Postgres is the record: losing Redis's data signs nobody out, and with Redis
 * down, Authorize, GetSessions and revocation still work from Postgres. When
 * Redis returns, instances use it again: a revocation made during the outage
 * reaches a socket on another instance, and the cache fills again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../../scripts/stack.mjs';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const PASSWORD = 'durable password';

describe('live state durability', () => {
  let dir: string;
  let redis: RedisServer;
  /** Two instances on one database and one Redis: `gw` serves most calls, `other` is the instance that hears revocations only through Redis. */
  let gw: TestGateway;
  let other: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osmium-redis-'));
    redis = await startRedis(dir);
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:` };
    gw = await startGateway(env);
    other = await startGateway(env, { databaseUrl: gw.databaseUrl });
  });
  after(async () => {
    await other.close();
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
    const first = await person(gw, { client: a, email, password: PASSWORD, name: 'Flushed' });
    const b = await gw.connect();
    const second = await b.call('auth_sign_in', { email, password: PASSWORD });
    const revokedLater = await (await gw.connect()).call('auth_sign_in', { email, password: PASSWORD });
    await a.call('auth_revoke_sessions', { session_ids: [revokedLater.authorization!.session_id!] });

    await flushAll();

    const c = await gw.connect();
    const resumed = await c.call('auth_authorize', { token: first.authorization!.token! });
    assert.equal(resumed.authorization!.session_id!.toString(), first.authorization!.session_id!.toString());
    const refused = await c.request('auth_authorize', { token: revokedLater.authorization!.token! });
    assertRpcError(refused, ErrorCode.FORBIDDEN, undefined, 'a revoked session stays revoked');
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
    const { client: a } = await person(gw, { email, password: PASSWORD, name: 'Paused' });
    const victim = await (await gw.connect()).call('auth_sign_in', { email, password: PASSWORD });
    await (await gw.connect()).call('auth_authorize', { token: victim.authorization!.token! }); // cached as valid
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    await a.call('auth_revoke_sessions', { session_ids: [victim.authorization!.session_id!] });
    const during = await (await gw.connect()).request('auth_authorize', { token: victim.authorization!.token! });
    assertRpcError(during, ErrorCode.FORBIDDEN, undefined, 'refused while the tombstone is not written');
    // Reads are served during a WRITE pause: the tombstone shows up once writes resume.
    const key = `${gw.app.config.REDIS_PREFIX}s:{${victim.authorization!.session_id!.toString()}}`;
    await eventually(async () => (await admin.get(key)) === 'r', { what: 'the tombstone in Redis after the pause' });
    admin.disconnect();
  });

  it('works from Postgres while Redis is down: a revocation reaches the other instance through Postgres, and once Redis returns empty the revoked session stays refused on both', async () => {
    const email = uniqueEmail('down');
    const a = await gw.connect();
    const keep = await person(gw, { client: a, email, password: PASSWORD, name: 'Outage' });
    const victimSocket = await gw.connect();
    const victim = await victimSocket.call('auth_sign_in', { email, password: PASSWORD });
    // The same session resumed on the other instance: only Redis can tell that one.
    const victimElsewhere = await other.connect();
    await victimElsewhere.call('auth_authorize', { token: victim.authorization!.token! });
    const sessionKey = (id: { toString(): string }) => `${gw.app.config.REDIS_PREFIX}s:{${id.toString()}}`;

    redis.stop();
    const lost = (t: TestGateway, role: string) => t.logs.some((l) => l.msg === 'redis connection error' && l.role === role);
    await eventually(() => lost(gw, 'commands') && lost(other, 'subscriber'), { what: 'both instances to notice Redis is gone' });

    const b = await gw.connect();
    const resumed = await b.call('auth_authorize', { token: keep.authorization!.token! });
    assert.ok(resumed.authorization, 'Authorize works from Postgres');
    const list = await b.call('auth_get_sessions', {});
    assert.equal(list.sessions!.sessions!.length, 2, 'GetSessions works from Postgres');
    await b.call('auth_revoke_sessions', { session_ids: [victim.authorization!.session_id!] });
    assert.equal((await victimSocket.closed).code, CloseCode.SESSION_REVOKED, 'local sockets are closed at once');
    const refused = await (await gw.connect()).request('auth_authorize', { token: victim.authorization!.token! });
    assertRpcError(refused, ErrorCode.FORBIDDEN, undefined, 'revocation took effect while Redis was down');
    // Postgres announces every revocation too (NOTIFY, migration 0010): the other instance closes its socket without Redis.
    const update = await victimElsewhere.nextUpdate(15_000);
    assert.equal(update.session_deleted?.session_id?.toString(), victim.authorization!.session_id!.toString());
    assert.equal((await victimElsewhere.closed).code, CloseCode.SESSION_REVOKED);

    redis = await startRedis(dir, redis.port);
    // The restarted Redis is empty: no entry says the victim is valid, so nothing needs re-applying
    // (a Redis that comes back with older state is caught up from the revocation log: liveStateRestore.test.ts).
    const probe = new Redis(redis.url);
    try {
      await eventually(
        async () => {
          const again = await (await gw.connect()).call('auth_authorize', { token: keep.authorization!.token! });
          assert.ok(again.authorization);
          return (await probe.get(sessionKey(keep.authorization!.session_id!))) !== null;
        },
        { what: 'Authorize to cache the session in the returned Redis' },
      );
    } finally {
      probe.disconnect();
    }
    for (const instance of [gw, other]) {
      const refusedAfter = await (await instance.connect()).request('auth_authorize', { token: victim.authorization!.token! });
      assertRpcError(refusedAfter, ErrorCode.FORBIDDEN, undefined, 'still revoked once Redis is back, on both instances');
    }
  });
});
