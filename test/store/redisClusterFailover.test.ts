/**
 * A Redis Cluster master dies mid-traffic under two gateway instances (README
 * "When Redis loses data or goes down"): while its slots fail over, every
 * Authorize is still answered (from Postgres); after, sign-in works, no valid
 * session is lost and no revoked one comes back, the sharded subscriptions
 * are on the promoted replica, so a revocation on one instance reaches the
 * other instance's socket through the broker, and its tombstone is on the new
 * master. The cluster is this test's own (it kills a node); the gateways run
 * in this process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type Long from 'long';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redisCluster.js';
import { metric } from '../helpers/metrics.js';
import { createDatabase, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const PASSWORD = 'failover quokka password';

/** Revocations fanned out on an instance by the broker (the Postgres path does not count them). */
const brokerFanouts = (gw: TestGateway) => metric(gw.app.metricsPort!, 'osmium_revocation_fanout_seconds_count');

interface SignedIn {
  token: string;
  sessionId: Long;
}

describe('a Redis Cluster master fails over under two instances', () => {
  let cluster: TestRedisCluster;
  let one: TestGateway;
  let two: TestGateway;
  const prefix = `fo${randomBytes(3).toString('hex')}:`;
  before(async () => {
    cluster = await startRedisCluster();
    const databaseUrl = await createDatabase();
    const env = { REDIS_CLUSTER_NODES: cluster.seeds.join(','), REDIS_PREFIX: prefix };
    [one, two] = await Promise.all([startGateway(env, { databaseUrl }), startGateway(env, { databaseUrl })]);
  });
  after(async () => {
    await Promise.all([one?.close(), two?.close()]);
    cluster?.stop();
  });

  it('answers every Authorize during the failover; after it, sessions are as they were and revocations reach the other instance through the promoted master', async () => {
    const revocations = `${prefix}sessions.revoked`;
    const channelMaster = await cluster.masterFor(revocations);
    const onChannelMaster = async (s: SignedIn) => (await cluster.masterFor(`${prefix}s:{${s.sessionId.toString()}}`)).id === channelMaster.id;

    const email = uniqueEmail('failover');
    const { client: owner } = await person(one, { email, password: PASSWORD, name: 'Owner' });
    // Sessions spread over the three masters; at least two cached on the one that will die (where the revocation channel lives too).
    const sessions: SignedIn[] = [];
    for (let attempt = 0; attempt < 60 && (sessions.length < 12 || (await Promise.all(sessions.map(onChannelMaster))).filter(Boolean).length < 2); attempt++) {
      const { authorization } = await (await one.connect()).call('auth_sign_in', { email, password: PASSWORD });
      sessions.push({ token: authorization!.token!, sessionId: authorization!.session_id! });
    }
    const onDying = [];
    for (const s of sessions) if (await onChannelMaster(s)) onDying.push(s);
    assert.ok(onDying.length >= 2, 'two sessions cached on the master that serves the revocation channel');
    const [victim, revokedBefore] = onDying as [SignedIn, SignedIn];
    await owner.call('auth_revoke_sessions', { session_ids: [revokedBefore.sessionId] });
    const valid = sessions.filter((s) => s !== revokedBefore);
    // Every valid session cached, on both instances.
    for (const gw of [one, two]) for (const s of valid) assert.ok((await (await gw.connect()).call('auth_authorize', { token: s.token })).authorization);
    const watcher = await two.connect();
    assert.ok((await watcher.call('auth_authorize', { token: victim.token })).authorization);

    // Traffic on both instances while the master dies and its replica takes over.
    let failedOver = false;
    const answers = { ok: 0, refused: [] as string[] };
    const traffic = [one, two].map(async (gw) => {
      const socket = await gw.connect();
      for (let i = 0; !failedOver; i++) {
        const s = valid[i % valid.length]!;
        const r = await socket.request('auth_authorize', { token: s.token });
        if (r.authorization?.session_id?.toString() === s.sessionId.toString()) answers.ok++;
        else answers.refused.push(JSON.stringify(r.error));
      }
    });
    await cluster.kill(channelMaster);
    const promoted = await cluster.waitForFailover(channelMaster).finally(() => (failedOver = true));
    await Promise.all(traffic);
    assert.deepEqual(answers.refused, [], 'every Authorize during the failover was answered with its session');
    assert.ok(answers.ok > 0);
    console.log(`failover: ${answers.ok} Authorize answered on two instances while ${channelMaster.host}:${channelMaster.port} died and ${promoted.port} took over`);

    // After: sign-in works; no valid session lost, the revoked one stays revoked.
    assert.ok((await (await two.connect()).call('auth_sign_in', { email, password: PASSWORD })).authorization, 'sign-in after the failover');
    for (const gw of [one, two]) {
      for (const s of valid) assert.ok((await (await gw.connect()).call('auth_authorize', { token: s.token })).authorization, 'no session lost');
      const again = await (await gw.connect()).request('auth_authorize', { token: revokedBefore.token });
      assertRpcError(again, ErrorCode.FORBIDDEN, undefined, 'no revoked session resurrected');
    }

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
    const refused = await (await two.connect()).request('auth_authorize', { token: victim.token });
    assertRpcError(refused, ErrorCode.FORBIDDEN);
  });
});
