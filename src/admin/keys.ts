/**
 * `admin keys ...`: JWT signing keys. `rotate` adds a key that signs from now
 * on while the older ones keep verifying; `retire` stops accepting tokens of
 * every key but the newest. Running gateways are told through Redis
 * (KEYS_CHANGED); without Redis they re-read the keys within a minute, and
 * any gateway meeting an unknown kid re-reads them at once.
 */
import { createLogger } from '../logger.js';
import { Topic } from '../store/broker.js';
import { KeysRepo } from '../store/keysRepo.js';
import { commandsReady, connectRedis, redisBroker } from '../store/redisClients.js';
import type { AdminCommand, AdminContext } from './command.js';

/**
 * Tells every running gateway to reload its key ring; returns false without
 * Redis or when Redis cannot be reached (the key is stored either way, and
 * gateways meeting its kid re-read the keys).
 */
async function announce({ config }: AdminContext): Promise<boolean> {
  if (!config.redis) return false;
  const log = createLogger({ level: 'silent', pretty: false });
  const redis = connectRedis(config.redis, log, () => {});
  try {
    await commandsReady(redis);
    await redisBroker(redis, config.REDIS_PREFIX).publish(Topic.KEYS_CHANGED, '');
    return true;
  } catch {
    return false;
  } finally {
    redis.commands.disconnect();
    redis.subscriber.disconnect();
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
    usage: 'retire [--include-bot-keys]',
    summary:
      'retire every key but the newest: tokens signed with them stop working; keys that live bots\' tokens use are kept ' +
      '(listed; `bot reset-token` moves a bot to the newest key) unless --include-bot-keys',
    async run(args, ctx) {
      const { retired, keptForBots } = await new KeysRepo(ctx.db).retireAllButNewest(args.flags.has('include-bot-keys'));
      ctx.print({ retired, kept_for_bots: keptForBots.map((k) => ({ kid: k.kid, bot_ids: k.botIds })), announced: await announce(ctx) });
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
