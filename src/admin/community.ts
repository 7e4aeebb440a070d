/** `admin community ...`: create and list communities (invite targets). */
import { CommunitiesRepo } from '../store/communitiesRepo.js';
import { requireFlag, type AdminCommand } from './command.js';
import { idArg, limitFlag, nameArg, optionalIdFlag, requireUser, withIds } from './commandSupport.js';

export const communityCommands: Record<string, AdminCommand> = {
  create: {
    usage: 'create --owner <userId> --name <name> [--channel <name>]',
    summary: 'create a community with one text channel (default "general"); the owner is its first member',
    async run(args, ctx) {
      const ownerId = idArg(requireFlag(args, 'owner'), '--owner');
      const name = nameArg(requireFlag(args, 'name'), '--name');
      const channelName = nameArg(args.flags.get('channel') ?? 'general', '--channel');
      await requireUser(ctx, ownerId);
      const created = await withIds(ctx, async (ids) => {
        const id = ids.next();
        const channelId = ids.next();
        const community = await new CommunitiesRepo(ctx.db).create({ id, channelId, channelName, name, ownerId });
        return { communityId: community.id, channelId };
      });
      ctx.print({ community_id: created.communityId, channel_id: created.channelId });
    },
  },
  list: {
    usage: 'list [--owner <userId>] [--limit N]',
    summary: 'list communities, newest first, with channel ids and member counts',
    async run(args, ctx) {
      const ownerId = optionalIdFlag(args, 'owner');
      for (const c of await new CommunitiesRepo(ctx.db).list({ ownerId, limit: limitFlag(args) })) {
        ctx.print({
          community_id: c.id, name: c.name, owner_id: c.ownerId, channel_ids: c.channelIds,
          member_count: c.memberCount, created_at: c.createdAt.toISOString(),
        });
      }
    },
  },
};
