/**
 * The pieces of `npm run bench` against a real gateway, tiny: minting,
 * aging the session cache, the figure 1a/1b drivers, the bare ceiling
 * server's answer sizes, interleaved parity timing and the server counters.
 * Nothing here asserts a duration.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { osmium } from '../../src/gen/osmium.js';
import { AGED_KEYS, ageSessions } from '../../scripts/bench/aging.js';
import { BENCH_DEVICE, BenchSocket, authorizeOverOpenSockets, closeAll, openInitialized, reconnectStorm } from '../../scripts/bench/driver.js';
import { measureParity } from '../../scripts/bench/enumeration.js';
import { spawnBareServer } from '../../scripts/bench/processes.js';
import { RedisWatch, databaseCounters, postgresPid, storagePerRow, tableWrites } from '../../scripts/bench/servers.js';
import { mintGuestSessions, type BenchSession } from '../../scripts/bench/sessions.js';
import { DATABASE_URL, REDIS_URL, startGateway, type TestGateway } from '../helpers/stack.js';

const PREFIX = `benchtest${process.pid}:`;

describe('bench harness against a real gateway', () => {
  let gateway: TestGateway;
  let redis: Redis;
  let sessions: BenchSession[];
  before(async () => {
    gateway = await startGateway({ LOG_LEVEL: 'warn', RATE_LIMITS: 'off', REDIS_PREFIX: PREFIX });
    redis = new Redis(REDIS_URL);
    sessions = await mintGuestSessions(gateway.url, 24, 2, 4);
  });
  after(async () => {
    redis.disconnect();
    await gateway.close();
  });

  it('mints distinct sessions, each with its token', () => {
    assert.equal(sessions.length, 24);
    assert.equal(new Set(sessions.map((s) => s.sessionId)).size, 24);
    assert.equal(new Set(sessions.map((s) => s.token)).size, 24);
  });

  it('ages sessions by expiring the keys named for it; Authorize still succeeds on them (from Postgres when the entry is gone)', async () => {
    const slice = sessions.slice(0, 12);
    const ids = slice.map((s) => s.sessionId);
    assert.equal(await ageSessions(redis, PREFIX, ids), AGED_KEYS.length * ids.length, 'today: the keys aging.ts names');
    // The mechanism, on the entry Authorize reads (as if Redis had lost it): the first key of the session that exists.
    const [entryKey] = await redis.keys(`${PREFIX}s:*${ids[0]}*`);
    assert.ok(entryKey, 'the session has a cache entry');
    const layout = (prefix: string, sid: string) => entryKey.slice(0, PREFIX.length).replace(PREFIX, prefix) + entryKey.slice(PREFIX.length).replace(ids[0]!, sid);
    const keys = ids.map((sid) => layout(PREFIX, sid));
    assert.equal(await redis.exists(...keys), keys.length, 'cached when minted');
    assert.equal(await ageSessions(redis, PREFIX, ids, [layout]), keys.length);
    assert.equal(await redis.exists(...keys), 0);

    const sockets = await openInitialized(gateway.url, 2);
    const outcome = await authorizeOverOpenSockets(sockets, slice.map((s) => s.token), 3);
    closeAll(sockets);
    assert.deepEqual({ ok: outcome.ok, errors: outcome.errors }, { ok: 12, errors: 0 }, JSON.stringify(outcome.errorsByCode));
  });

  it('runs a reconnect storm (open, Initialize, Authorize, close) and counts its bytes on the wire', async () => {
    const outcome = await reconnectStorm(gateway.url, sessions.slice(12).map((s) => s.token), 4);
    assert.deepEqual({ ok: outcome.ok, errors: outcome.errors }, { ok: 12, errors: 0 }, JSON.stringify(outcome.errorsByCode));
    assert.ok(outcome.bytesOut > 12 * 100 && outcome.bytesIn > 12 * 100, 'the upgrade alone is over 100 bytes each way');
  });

  it('counts a forged token as an error by its code', async () => {
    const [socket] = await openInitialized(gateway.url, 1);
    const outcome = await authorizeOverOpenSockets([socket!], ['not.a.token'], 1);
    closeAll([socket!]);
    assert.deepEqual(outcome.errorsByCode, { '403': 1 });
  });

  it('times two kinds of request alternately and compares their answers', async () => {
    const socket = await BenchSocket.open(gateway.url);
    await socket.request({ core_initialize: BENCH_DEVICE });
    const same = await measureParity(socket, 3, () => ({ auth_lookup_invite: { code: 'AAAAAAAAAA' } }), () => ({ auth_lookup_invite: { code: 'BBBBBBBBBB' } }));
    const different = await measureParity(socket, 2, () => ({ auth_lookup_invite: { code: 'AAAAAAAAAA' } }), () => ({ auth_lookup_invite: { code: 'short' } }));
    socket.terminate();
    assert.equal(same.sameAnswer, true, same.answer);
    assert.ok(same.ratio >= 1 && same.medianA > 0 && same.medianB > 0);
    assert.equal(different.sameAnswer, false, 'a 404 and a 400 differ');
  });

  it('reads the servers: Postgres pid and counters, table writes, storage; Redis pid, commands and memory', async () => {
    const watch = new RedisWatch(REDIS_URL);
    try {
      assert.ok((await watch.pid()) > 0);
      const counters = await watch.counters();
      assert.ok(counters.commands > 0 && counters.usedMemory > 0 && counters.keys > 0);
    } finally {
      watch.close();
    }
    assert.ok((await postgresPid(DATABASE_URL)) > 0);
    // Statistics show up to 10 s late: only their shape is checked here.
    const db = await databaseCounters(gateway.databaseUrl);
    assert.ok([db.transactions, db.tuplesReturned, db.tuplesFetched, db.tuplesInserted, db.tuplesUpdated, db.tuplesDeleted].every(Number.isFinite));
    assert.ok(db.statements === null || db.statements >= 0);
    assert.ok(Number.isFinite((await tableWrites(gateway.databaseUrl)).sessions?.inserted), 'every user table is listed');
    const storage = await storagePerRow(gateway.databaseUrl, ['sessions']);
    assert.ok(storage.sessions!.rows >= 24 && storage.sessions!.bytesPerRow > 0);
  });
});

describe('bare ws ceiling server', () => {
  it('answers Initialize and Authorize with exactly the sizes it is given', async () => {
    const bare = await spawnBareServer(300, 120);
    try {
      const ws = new WebSocket(bare.url, { perMessageDeflate: false });
      await once(ws, 'open');
      const { ClientMessage } = osmium.client.core;
      ws.send(ClientMessage.encode({ id: 1, core_initialize: BENCH_DEVICE }).finish());
      const [initialized] = (await once(ws, 'message')) as [Buffer];
      ws.send(ClientMessage.encode({ id: 2, auth_authorize: { token: 'x'.repeat(150) } }).finish());
      const [authorized] = (await once(ws, 'message')) as [Buffer];
      ws.terminate();
      assert.equal(initialized.length, 120);
      assert.equal(authorized.length, 300);
    } finally {
      await bare.stop();
    }
  });
});
