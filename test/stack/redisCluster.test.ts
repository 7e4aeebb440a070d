/**
 * The test stack's Redis Cluster works as later suites need it: 3 masters and
 * 3 replicas, every slot served, keys spread over the masters through
 * ioredis's Cluster client, and a killed master replaced by its replica
 * without losing a replicated key (test/helpers/redisCluster.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { sharedRedisCluster, startRedisCluster } from '../helpers/redisCluster.js';

describe('test stack: Redis Cluster', () => {
  it('has 3 masters serving every slot, each with a replica, and every node says cluster_state:ok', async () => {
    const cluster = sharedRedisCluster();
    const masters = await cluster.masters();
    const replicas = await cluster.replicas();
    assert.equal(masters.length, 3);
    assert.equal(replicas.length, 3);
    assert.deepEqual(new Set(replicas.map((r) => r.masterId)), new Set(masters.map((m) => m.id)), 'one replica per master');
    for (const port of cluster.seeds.map((s) => Number(s.split(':')[1]))) {
      const info = await cluster.info(port);
      assert.equal(info.get('cluster_state'), 'ok', `node ${port}`);
      assert.equal(info.get('cluster_slots_assigned'), '16384');
    }
  });

  it("reads back through ioredis's Cluster client what it wrote, spread over every master", async () => {
    const cluster = sharedRedisCluster();
    const client = cluster.client();
    const prefix = `smoke${randomBytes(4).toString('hex')}:`;
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}${i}`);
    try {
      await Promise.all(keys.map((k) => client.set(k, `value of ${k}`)));
      assert.deepEqual(await Promise.all(keys.map((k) => client.get(k))), keys.map((k) => `value of ${k}`));
      const owners = new Set(await Promise.all(keys.map(async (k) => (await cluster.masterFor(k)).port)));
      assert.equal(owners.size, 3, `keys landed on every master: ${[...owners].join(', ')}`);
    } finally {
      await Promise.all(keys.map((k) => client.del(k)));
      client.disconnect();
    }
  });

  it('promotes the replica of a killed master, which still has what the master had', async () => {
    const cluster = await startRedisCluster();
    const client = cluster.client();
    try {
      const [master] = await cluster.masters();
      // A key of that master, written and replicated before the crash.
      let key = '';
      for (let i = 0; !key; i++) if ((await cluster.masterFor(`failover:${i}`)).id === master!.id) key = `failover:${i}`;
      await client.set(key, 'survives');
      const direct = new Redis({ host: master!.host, port: master!.port });
      assert.equal(await direct.call('WAIT', '1', '5000'), 1, 'the replica acknowledged the write');
      direct.disconnect();

      await cluster.kill(master!);
      const promoted = await cluster.waitForFailover(master!);
      assert.notEqual(promoted.port, master!.port);
      assert.equal((await cluster.masterFor(key)).id, promoted.id, 'the promoted replica serves the key now');
      assert.equal(await client.get(key), 'survives', 'read through the Cluster client after the failover');
      await client.set(key, 'written after');
      assert.equal(await client.get(key), 'written after');
    } finally {
      client.disconnect();
      cluster.stop();
    }
  });
});
