/** `admin invite ...`: list and delete invites. */
import { InviteTargetType, type InviteTarget } from '../domain/invite.js';
import { InvitesRepo } from '../store/invitesRepo.js';
import { isInviteCode } from '../services/inviteCodes.js';
import { unusableReason } from '../services/invites.js';
import { UsageError, type AdminCommand } from './command.js';
import { limitFlag, optionalIdFlag } from './commandSupport.js';

const TYPE_NAMES: Record<number, string> = { 1: 'community', 2: 'group', 3: 'user' };

export const inviteCommands: Record<string, AdminCommand> = {
  list: {
    usage: 'list [--community <id> | --group <id> | --user <id>] [--creator <userId>] [--all] [--limit N]',
    summary: 'list live invites (with --all also deleted, expired and used-up ones), newest first',
    async run(args, ctx) {
      const targets: InviteTarget[] = [];
      const community = optionalIdFlag(args, 'community');
      const group = optionalIdFlag(args, 'group');
      const user = optionalIdFlag(args, 'user');
      if (community) targets.push({ type: InviteTargetType.COMMUNITY, id: community });
      if (group) targets.push({ type: InviteTargetType.GROUP, id: group });
      if (user) targets.push({ type: InviteTargetType.USER, id: user });
      if (targets.length > 1) throw new UsageError('give at most one of --community, --group, --user');
      const now = Date.now();
      const invites = await new InvitesRepo(ctx.db).list({
        target: targets[0], creatorId: optionalIdFlag(args, 'creator'), includeDead: args.flags.has('all'), now, limit: limitFlag(args),
      });
      for (const i of invites) {
        ctx.print({
          code: i.code,
          creator_id: i.creatorId,
          target_type: TYPE_NAMES[i.target.type],
          target_id: i.target.id,
          expires_at: i.expiresAt,
          max_uses: i.maxUses,
          uses: i.uses,
          created_at: i.createdAt.toISOString(),
          deleted_at: i.deletedAt?.toISOString() ?? null,
          state: i.deletedAt ? 'deleted' : i.expiresAt !== null && i.expiresAt <= now ? 'expired' : unusableReason(i, now) ? 'used_up' : 'live',
        });
      }
    },
  },
  delete: {
    usage: 'delete <code>',
    summary: 'delete an invite (it stops working at once)',
    async run({ positional: [code] }, ctx) {
      if (!code || !isInviteCode(code)) throw new UsageError('code must be 10 characters of A-Z, a-z, 0-9, _ and -');
      if (!(await new InvitesRepo(ctx.db).markDeleted(code))) throw new Error(`no live invite with code ${code}`);
      ctx.print({ code, deleted: true });
    },
  },
};
