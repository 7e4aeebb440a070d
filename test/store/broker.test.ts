/** The Broker contract (brokerContract.ts), run against every implementation. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Broker } from '../../src/store/broker.js';
import { MemoryBroker } from '../../src/store/brokerMemory.js';
import { RedisBroker } from '../../src/store/brokerRedis.js';
import { RedisClusterBroker } from '../../src/store/brokerRedisCluster.js';
import { sharedRedisCluster } from '../helpers/redisCluster.js';
import { REDIS_URL } from '../helpers/stack.js';
import { brokerContract } from './brokerContract.js';

brokerContract('memory', {
  create: async () => new MemoryBroker(),
});

/** The id of each Redis broker's subscriber connection, to cut exactly that one. */
const subscriberIds = new WeakMap<Broker, number>();

/** The broker, whose close() also closes its command connection (the gateway closes that one itself). */
function closingPublisherToo<B extends Broker>(broker: B, publisher: { disconnect(): void }): B {
  const close = broker.close.bind(broker);
  broker.close = async () => {
    await close();
    publisher.disconnect();
  };
  return broker;
}

/**
 * A RedisBroker on connections of its own, as the gateway builds it (a command
 * connection and a subscriber). The gateway closes its command connection
 * itself; here closing the broker closes both.
 */
async function onRedis(prefix: string): Promise<Broker> {
  const publisher = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  const id = Number(await subscriber.client('ID')); // before it subscribes: then it takes no other command
  const broker = closingPublisherToo(new RedisBroker(publisher, subscriber, prefix), publisher);
  subscriberIds.set(broker, id);
  return broker;
}
const freshPrefix = () => `contract${randomBytes(4).toString('hex')}:`;

brokerContract('redis', {
  create: () => onRedis(freshPrefix()),
  createPair: async () => {
    const prefix = freshPrefix();
    return [await onRedis(prefix), await onRedis(prefix)];
  },
  interrupt: async (broker) => {
    const admin = new Redis(REDIS_URL);
    try {
      await admin.client('KILL', 'ID', String(subscriberIds.get(broker)));
    } finally {
      admin.disconnect();
    }
  },
});

/**
 * On the test stack's Redis Cluster, as the gateway builds it (redisClients.ts):
 * sharded pub/sub, one subscriber connection per shard. Each broker's
 * connections carry a name of their own, so `interrupt` cuts exactly those.
 */
const cluster = sharedRedisCluster();
const clusterBrokerNames = new WeakMap<Broker, string>();
function onCluster(prefix: string): Broker {
  const name = `contract-${randomBytes(4).toString('hex')}`;
  const publisher = cluster.client({ redisOptions: { connectionName: `${name}-pub` } });
  const subscriber = cluster.client({ shardedSubscribers: true, redisOptions: { connectionName: name } });
  const broker = closingPublisherToo(new RedisClusterBroker(publisher, subscriber, prefix), publisher);
  clusterBrokerNames.set(broker, name);
  return broker;
}

brokerContract('redis cluster', {
  create: async () => onCluster(freshPrefix()),
  createPair: async () => {
    const prefix = freshPrefix();
    return [onCluster(prefix), onCluster(prefix)];
  },
  interrupt: async (broker) => {
    const name = clusterBrokerNames.get(broker);
    let cut = 0;
    for (const master of await cluster.masters()) {
      const node = new Redis({ host: master.host, port: master.port });
      try {
        const clients = String(await node.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
        for (const id of [...clients.matchAll(/id=(\d+) .*?name=(\S*)/g)].filter((m) => m[2] === `ioredis-cluster(ssubscriber):${name}`).map((m) => m[1]!)) {
          await node.client('KILL', 'ID', id);
          cut++;
        }
      } finally {
        node.disconnect();
      }
    }
    assert.ok(cut > 0, 'the broker had a subscriber connection to cut');
  },
});
