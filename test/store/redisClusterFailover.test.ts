/**
 * A Redis Cluster master dies under two gateway instances (README "When Redis
 * loses data or goes down"): while its slots fail over, Authorize falls back
 * to Postgres and keeps answering; after, the sharded subscriptions are back
 * on the promoted replica, so a revocation on one instance reaches the other
 * instance's socket through the broker, and its tombstone is on the new master.
 * The cluster is this test's own (it kills a node); the gateways are in-process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type Long from 'long';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { eventually } from '../helpers/eventually.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redisCluster.js';
import { createDatabase, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const PASSWORD = 'failover quokka password';

/** Revocations fanned out on an instance by the broker (the Postgres path does not count them). */
async function brokerFanouts(gw: TestGateway): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gw.app.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('osmium_revocation_fanout_seconds_count '));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('a Redis Cluster master fails over under two instances', () => {
  let cluster: TestRedisCluster;
  let one: TestGateway;
  let two: TestGateway;
  const prefix = `fo${randomBytes(3).toString('hex')}:`;
  before(async () => {
    cluster = await startRedisCluster();
    const databaseUrl = await createDatabase();
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds.join(','), REDIS_PREFIX: prefix };
    [one, two] = await Promise.all([startGateway(env, { databaseUrl }), startGateway(env, { databaseUrl })]);
  });
  after(async () => {
    await Promise.all([one?.close(), two?.close()]);
    cluster?.stop();
  });

  it('keeps authorizing during the failover, and revocations reach the other instance through the promoted master after', async () => {
    const revocations = `${prefix}sessions.revoked`;
    const channelMaster = await cluster.masterFor(revocations);

    const email = uniqueEmail('failover');
    const owner = await one.connect();
    await owner.call('auth_sign_up', { email, password: PASSWORD, name: 'Owner' });
    // A session whose cache entry lives on the master that will die, as the revocation channel does.
    let victim: { token: string; sessionId: Long } | undefined;
    for (let attempt = 0; attempt < 40 && !victim; attempt++) {
      const { authorization } = await (await one.connect()).call('auth_sign_in', { email, password: PASSWORD });
      const sessionId = authorization!.session_id!;
      if ((await cluster.masterFor(`${prefix}s:{${sessionId.toString()}}`)).id === channelMaster.id) victim = { token: authorization!.token!, sessionId };
    }
    assert.ok(victim, 'a session cached on the master that serves the revocation channel');

    const watcher = await two.connect();
    assert.ok((await watcher.call('auth_authorize', { token: victim.token })).authorization);

    await cluster.kill(channelMaster);
    // The slots have no master until a replica is promoted: Redis commands to them fail, Postgres answers.
    const during = await one.connect();
    const authorized = await during.request('auth_authorize', { token: victim.token });
    assert.equal(authorized.error ?? undefined, undefined, `Authorize during the failover: ${JSON.stringify(authorized.error)}`);
    assert.equal(authorized.authorization?.session_id?.toString(), victim.sessionId.toString());
    assert.ok((await watcher.call('auth_get_sessions', {})).sessions, 'the bound socket is served during the failover');

    const promoted = await cluster.waitForFailover(channelMaster);
    const probe = cluster.client();
    try {
      // Both instances' sharded subscribers are back, on the promoted master.
      await eventually(async () => Number(await probe.spublish(revocations, 'not a revocation')) === 2, {
        what: `both instances subscribed to ${revocations} on ${promoted.host}:${promoted.port}`,
        timeoutMs: 30_000,
      });
      const fannedOut = await brokerFanouts(two);
      await owner.call('auth_revoke_sessions', { session_ids: [victim.sessionId] });
      assert.equal((await watcher.closed).code, CloseCode.SESSION_REVOKED, "the other instance's socket of the revoked session is closed");
      assert.equal(await brokerFanouts(two), fannedOut + 1, 'the other instance heard the revocation from the broker');
      assert.equal(await probe.get(`${prefix}s:{${victim.sessionId.toString()}}`), 'r', 'the tombstone is on the promoted master');
    } finally {
      probe.disconnect();
    }
    const after = await two.connect();
    assert.equal((await after.request('auth_authorize', { token: victim.token })).error?.error_code, ErrorCode.FORBIDDEN);
  });
});
