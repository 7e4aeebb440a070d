/**
 * `admin bot ...`: bot accounts (the Osmium SDK's `client.login(token)`).
 * A token is printed once, when made; only its session is stored. Resetting
 * or deleting reaches every running gateway through Postgres, so live sockets
 * of the old token close at once (4001), with or without Redis.
 */
import { createLogger } from '../logger.js';
import { BotService } from '../services/bots.js';
import { TokenService } from '../services/tokens.js';
import { BotsRepo } from '../store/botsRepo.js';
import { KeysRepo } from '../store/keysRepo.js';
import { SessionsRepo } from '../store/sessionsRepo.js';
import { requireFlag, type AdminCommand, type AdminContext } from './command.js';
import { idArg, limitFlag, nameArg, optionalIdFlag, requireUser, withIds } from './commandSupport.js';

/** Runs `work` with a bot service on a leased worker id and the loaded key ring. */
async function withBots<T>(ctx: AdminContext, work: (bots: BotService) => Promise<T>): Promise<T> {
  const tokens = new TokenService({ repo: new KeysRepo(ctx.db), log: createLogger({ level: 'warn', pretty: false, destination: process.stderr }) });
  await tokens.start();
  return withIds(ctx, (ids) => work(new BotService({ bots: new BotsRepo(ctx.db), sessions: new SessionsRepo(ctx.db), tokens, ids })));
}

export const botCommands: Record<string, AdminCommand> = {
  create: {
    usage: 'create --owner <userId> --name <name>',
    summary: 'create a bot owned by a user; prints its id and token (the token is shown only now)',
    async run(args, ctx) {
      const ownerId = idArg(requireFlag(args, 'owner'), '--owner');
      const name = nameArg(requireFlag(args, 'name'), '--name');
      await requireUser(ctx, ownerId);
      const { botId, token } = await withBots(ctx, (bots) => bots.create(ownerId, name));
      ctx.print({ bot_id: botId, token });
    },
  },
  list: {
    usage: 'list [--owner <userId>] [--limit N]',
    summary: 'list bots, newest first, with their owner and live session ids',
    async run(args, ctx) {
      const ownerId = optionalIdFlag(args, 'owner');
      for (const bot of await new BotsRepo(ctx.db).list({ ownerId, limit: limitFlag(args) })) {
        ctx.print({ bot_id: bot.id, name: bot.name, owner_id: bot.ownerId, created_at: bot.createdAt.toISOString(), session_ids: bot.sessionIds });
      }
    },
  },
  'reset-token': {
    usage: 'reset-token <botId>',
    summary: 'a new token for a bot (signed with the newest key); the old one stops at once, live sockets close with 4001',
    async run({ positional: [id] }, ctx) {
      const botId = idArg(id, 'botId');
      const { token } = await withBots(ctx, (bots) => bots.resetToken(botId));
      ctx.print({ bot_id: botId, token });
    },
  },
  delete: {
    usage: 'delete <botId>',
    summary: 'delete a bot; its token stops at once, live sockets close with 4001',
    async run({ positional: [id] }, ctx) {
      const botId = idArg(id, 'botId');
      await withBots(ctx, (bots) => bots.delete(botId));
      ctx.print({ bot_id: botId, deleted: true });
    },
  },
};
