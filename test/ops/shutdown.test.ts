/**
 * Graceful shutdown of a real process: SIGTERM answers the request in flight
 * (seen hashing in /metrics and not yet answered when the signal is sent),
 * closes every socket with 1001, writes pending session activity to Postgres
 * and exits 0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { OsmiumClient } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { guest } from '../helpers/accounts.js';
import { clockPast, eventually } from '../helpers/eventually.js';
import { metric } from '../helpers/metrics.js';
import { createDatabase, REDIS_URL, spawnGateway, uniqueEmail } from '../helpers/stack.js';


describe('graceful shutdown', () => {
  it('on SIGTERM answers the in-flight request, closes sockets with 1001, flushes activity and exits 0', async () => {
    const databaseUrl = await createDatabase();
    // Cost 13: a sign-up hash takes about half a second (more on a loaded machine), long enough to see it running.
    const gw = await spawnGateway({
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
      BCRYPT_COST: '13',
      SHUTDOWN_GRACE_MS: '10000',
    });
    const alice = await OsmiumClient.connect(gw.url);
    const signedUp = await guest(gw, 'Guest Alice', { client: alice }); // a guest: no hash
    const sessionId = signedUp.authorization!.session_id!.toString();
    await clockPast(Date.now()); // so the activity below is later than the sign-up's
    const activeAt = Date.now();
    await alice.call('core_initialize', {}); // activity that only lives in memory until a flush
    const idle = await OsmiumClient.connect(gw.url);

    const carol = await OsmiumClient.connect(gw.url);
    let answered = false;
    const inFlight = carol.request('auth_sign_up', { email: uniqueEmail('shutdown'), password: 'shutdown password', name: 'Carol' });
    void inFlight.then(() => (answered = true));
    await eventually(async () => (await metric(gw.metricsPort, 'osmium_password_hashes_running')) >= 1, { what: "Carol's password hash to be running" });
    assert.equal(answered, false, 'the sign-up is still in flight when SIGTERM is sent');
    const exited = gw.stop('SIGTERM');

    const result = await inFlight;
    assert.ok(result.authorization?.token, `the in-flight sign-up was answered: ${JSON.stringify(result.error)}`);
    for (const client of [alice, idle, carol]) assert.equal((await client.closed).code, CloseCode.GOING_AWAY);
    assert.equal(await exited, 0);

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ last_active: string }>('SELECT last_active FROM sessions WHERE id = $1', [sessionId]);
      assert.ok(Number(rows[0]!.last_active) >= activeAt, 'the last activity reached Postgres at shutdown');
      const carolRows = await db.query('SELECT 1 FROM users WHERE name = $1', ['Carol']);
      assert.equal(carolRows.rowCount, 1, 'what was acknowledged was kept');
    } finally {
      await db.end();
    }
  });
});
