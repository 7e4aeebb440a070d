/**
 * `admin keys ...`: JWT signing keys. `rotate` adds a key that signs from now
 * on while the older ones keep verifying; `retire` stops accepting tokens of
 * every key but the newest. Running gateways are told through Redis
 * (KEYS_CHANGED); without REDIS_URL they re-read the keys within a minute, and
 * any gateway meeting an unknown kid re-reads them at once.
 */
import { Redis } from 'ioredis';
import { Topic } from '../store/broker.js';
import { RedisBroker } from '../store/brokerRedis.js';
import { KeysRepo } from '../store/keysRepo.js';
import type { AdminCommand, AdminContext } from './command.js';

/** Tells every running gateway to reload its key ring; returns false without Redis. */
async function announce({ config }: AdminContext): Promise<boolean> {
  if (!config.REDIS_URL) return false;
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await redis.connect();
    await new RedisBroker(redis, redis, config.REDIS_PREFIX).publish(Topic.KEYS_CHANGED, '');
    return true;
  } finally {
    redis.disconnect();
  }
}

export const keysCommands: Record<string, AdminCommand> = {
  rotate: {
    usage: 'rotate',
    summary: 'add a new signing key; older keys keep verifying until `keys retire`',
    async run(_args, ctx) {
      const kid = await new KeysRepo(ctx.db).create();
      ctx.print({ kid, signing: true, announced: await announce(ctx) });
    },
  },
  retire: {
    usage: 'retire',
    summary: 'retire every key but the newest: tokens signed with them stop working',
    async run(_args, ctx) {
      const retired = await new KeysRepo(ctx.db).retireAllButNewest();
      ctx.print({ retired, announced: await announce(ctx) });
    },
  },
  list: {
    usage: 'list',
    summary: 'list signing keys, newest first (never their secrets)',
    async run(_args, { db, print }) {
      for (const key of await new KeysRepo(db).list()) {
        print({ kid: key.kid, created_at: key.createdAt.toISOString(), retired_at: key.retiredAt?.toISOString() ?? null });
      }
    },
  },
};
