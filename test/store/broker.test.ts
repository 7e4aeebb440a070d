/** The Broker contract (brokerContract.ts), run against every implementation. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Broker } from '../../src/store/broker.js';
import { MemoryBroker } from '../../src/store/brokerMemory.js';
import { RedisBroker } from '../../src/store/brokerRedis.js';
import { REDIS_URL } from '../helpers/stack.js';
import { brokerContract } from './brokerContract.js';

brokerContract('memory', {
  create: async () => new MemoryBroker(),
});

/** The id of each Redis broker's subscriber connection, to cut exactly that one. */
const subscriberIds = new WeakMap<Broker, number>();

/**
 * A RedisBroker on connections of its own, as the gateway builds it (a command
 * connection and a subscriber). The gateway closes its command connection
 * itself; here closing the broker closes both.
 */
async function onRedis(prefix: string): Promise<Broker> {
  const publisher = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  const id = Number(await subscriber.client('ID')); // before it subscribes: then it takes no other command
  const broker = new RedisBroker(publisher, subscriber, prefix);
  const close = broker.close.bind(broker);
  broker.close = async () => {
    await close();
    publisher.disconnect();
  };
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
