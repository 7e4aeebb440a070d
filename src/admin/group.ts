/** `admin group ...`: create and list group chats (invite targets). */
import { GroupsRepo } from '../store/groupsRepo.js';
import { requireFlag, type AdminCommand } from './command.js';
import { idArg, limitFlag, nameArg, optionalIdFlag, requireUser, withIds } from './commandSupport.js';

export const groupCommands: Record<string, AdminCommand> = {
  create: {
    usage: 'create --owner <userId> --name <name>',
    summary: 'create a group chat; the owner is its first participant',
    async run(args, ctx) {
      const ownerId = idArg(requireFlag(args, 'owner'), '--owner');
      const name = nameArg(requireFlag(args, 'name'), '--name');
      await requireUser(ctx, ownerId);
      const group = await withIds(ctx, (ids) => new GroupsRepo(ctx.db).create({ id: ids.next(), name, ownerId }));
      ctx.print({ group_id: group.id });
    },
  },
  list: {
    usage: 'list [--owner <userId>] [--limit N]',
    summary: 'list groups, newest first, with participant ids',
    async run(args, ctx) {
      const ownerId = optionalIdFlag(args, 'owner');
      for (const g of await new GroupsRepo(ctx.db).list({ ownerId, limit: limitFlag(args) })) {
        ctx.print({ group_id: g.id, name: g.name, owner_id: g.ownerId, participant_ids: g.participantIds, created_at: g.createdAt.toISOString() });
      }
    },
  },
};
