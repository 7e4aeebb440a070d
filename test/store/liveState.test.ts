/** The LiveState contract (liveStateContract.ts), run against every implementation. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryLiveState } from '../../src/store/liveStateMemory.js';
import { RedisLiveState } from '../../src/store/liveStateRedis.js';
import { REDIS_URL } from '../helpers/stack.js';
import { liveStateContract } from './liveStateContract.js';

const ACTIVITY_TTL_MS = 60_000;

liveStateContract('memory', {
  create: async () => new MemoryLiveState(),
});

/** A RedisLiveState on its own connection; same prefix = same key space. */
const onRedis = (prefix: string) => new RedisLiveState(new Redis(REDIS_URL), prefix, ACTIVITY_TTL_MS);
const freshPrefix = () => `contract${randomBytes(4).toString('hex')}:`;

liveStateContract('redis', {
  create: async () => onRedis(freshPrefix()),
  createPair: async () => {
    const prefix = freshPrefix();
    return [onRedis(prefix), onRedis(prefix)];
  },
});
