/**
 * A Redis restored from an older snapshot must not bring revoked sessions
 * back (issue 23): the snapshot holds the valid cache entry of a session
 * revoked after it was taken, and, once Redis restarts from it, every
 * instance must catch up with Postgres's revocation log before it believes a
 * valid entry again. Two instances on one Redis with a snapshot on disk.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { redisCli, startRedis, type RedisServer } from '../../scripts/stack.mjs';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { person, signIn, type Account } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { assertRpcError } from '../helpers/results.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

describe('Redis restored from an older snapshot', () => {
  let dir: string;
  let redis: RedisServer;
  let gw1: TestGateway;
  let gw2: TestGateway;
  let prefix: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osmium-snapshot-'));
    redis = await startRedis(dir);
    prefix = `t${randomBytes(4).toString('hex')}:`;
    gw1 = await startGateway({ REDIS_URL: redis.url, REDIS_PREFIX: prefix });
    gw2 = await startGateway({ REDIS_URL: redis.url, REDIS_PREFIX: prefix }, { databaseUrl: gw1.databaseUrl });
  });
  after(async () => {
    await gw2?.close();
    await gw1?.close();
    redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Resumes `account`'s token on a new socket of `gw`: the RPCResult. */
  async function authorize(gw: TestGateway, account: Account) {
    return (await gw.connect()).request('auth_authorize', { token: account.token });
  }

  /** What Redis holds for a session: `v|…` for a valid entry, `r` for a tombstone. */
  async function cached(sessionId: string): Promise<string | null> {
    const client = new Redis(redis.url);
    try {
      return await client.get(`${prefix}s:{${sessionId}}`);
    } finally {
      client.disconnect();
    }
  }

  it('refuses, on both instances, a session revoked after the snapshot the restarted Redis loaded', async () => {
    // Two sessions of one account: the one kept revokes the other.
    const kept = await person(gw1, { tag: 'snapshot' });
    const revoked = await signIn(gw1, kept);
    // Both sessions cached as valid on both instances' Redis, then the snapshot.
    for (const gw of [gw1, gw2]) for (const account of [kept, revoked]) assert.ok((await authorize(gw, account)).authorization);
    assert.match((await cached(revoked.sessionId)) ?? '', /^v\|/);
    assert.equal(await redisCli(redis.port, 'save'), 'OK');
    // Revoked after it: Postgres says so, Redis tombstones it.
    await kept.client.call('auth_revoke_sessions', { session_ids: [revoked.authorization.session_id!] });
    assert.equal(await cached(revoked.sessionId), 'r');

    // Redis restarts from the snapshot (no save at shutdown): the valid entry is back.
    const port = redis.port;
    redis.stop();
    redis = await startRedis(dir, port);
    // The old snapshot brought the valid entry back; the instances, reconnecting, catch up at once (this
    // may already have happened here, so what Redis holds now is not asserted: the refusals below are).

    for (const gw of [gw1, gw2]) {
      assertRpcError(await authorize(gw, revoked), ErrorCode.FORBIDDEN, 'invalid, expired or revoked token');
      assert.ok((await authorize(gw, kept)).authorization, 'a session never revoked is still served');
    }
    // Both instances caught up with the revocation log: the tombstone is back, and warm Authorizes are from Redis again.
    await eventually(async () => (await cached(revoked.sessionId)) === 'r', { what: 'the tombstone re-applied from the revocation log' });
    await eventually(() => gw1.logs.some((l) => l.msg === 'live state caught up with the revocation log'), { what: 'the catch-up logged' });
  });
});
