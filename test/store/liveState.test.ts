/** The LiveState contract (liveStateContract.ts), run against every implementation. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LiveStateTtls } from '../../src/store/liveState.js';
import { MemoryLiveState } from '../../src/store/liveStateMemory.js';
import { RedisLiveState } from '../../src/store/liveStateRedis.js';
import { sharedRedisCluster } from '../helpers/redisCluster.js';
import { REDIS_URL } from '../helpers/stack.js';
import { liveStateContract } from './liveStateContract.js';

const HOUR = 3_600_000;
const ttls = (given: Partial<LiveStateTtls> = {}): LiveStateTtls => ({ entryMs: HOUR, tombstoneMs: HOUR, activityMs: HOUR, ...given });

liveStateContract('memory', {
  create: async (given) => new MemoryLiveState(ttls(given)),
});

/** A RedisLiveState on its own connection; same prefix = same key space. */
const onRedis = (prefix: string, given?: Partial<LiveStateTtls>) => new RedisLiveState(new Redis(REDIS_URL), prefix, ttls(given));
const freshPrefix = () => `contract${randomBytes(4).toString('hex')}:`;

liveStateContract('redis', {
  create: async (given) => onRedis(freshPrefix(), given),
  createPair: async () => {
    const prefix = freshPrefix();
    return [onRedis(prefix), onRedis(prefix)];
  },
});

/** On the test stack's Redis Cluster: every key of a session shares its slot (`{sid}` hash tags). */
const cluster = sharedRedisCluster();
const onCluster = (prefix: string, given?: Partial<LiveStateTtls>) => new RedisLiveState(cluster.client(), prefix, ttls(given));

liveStateContract('redis cluster', {
  create: async (given) => onCluster(freshPrefix(), given),
  createPair: async () => {
    const prefix = freshPrefix();
    return [onCluster(prefix), onCluster(prefix)];
  },
});
