/** `admin user ...`: what an operator needs to know about one user. */
import { AuditRepo } from '../store/auditRepo.js';
import { CommunitiesRepo } from '../store/communitiesRepo.js';
import { FriendsRepo } from '../store/friendsRepo.js';
import { GroupsRepo } from '../store/groupsRepo.js';
import { SessionsRepo } from '../store/sessionsRepo.js';
import { UsersRepo } from '../store/usersRepo.js';
import type { AdminCommand } from './command.js';
import { idArg, limitFlag } from './commandSupport.js';

export const userCommands: Record<string, AdminCommand> = {
  show: {
    usage: 'show <userId>',
    summary: 'the user with their communities, groups, friends (ids) and live sessions',
    async run({ positional: [id] }, ctx) {
      const userId = idArg(id, 'userId');
      const user = await new UsersRepo(ctx.db).byId(userId);
      if (!user) throw new Error(`unknown user id ${userId}`);
      const activeSince = Date.now() - ctx.config.SESSION_IDLE_DAYS * 86_400_000;
      const [communities, groups, friends, sessions] = await Promise.all([
        new CommunitiesRepo(ctx.db).idsByMember(userId),
        new GroupsRepo(ctx.db).idsByParticipant(userId),
        new FriendsRepo(ctx.db).idsOf(userId),
        new SessionsRepo(ctx.db).liveByUser(userId, activeSince),
      ]);
      ctx.print({
        id: user.id,
        name: user.name,
        email: user.email,
        email_verified: user.emailVerified,
        created_at: user.createdAt.toISOString(),
        delete_requested_at: user.deleteRequestedAt?.toISOString() ?? null,
        deleted_at: user.deletedAt?.toISOString() ?? null,
        communities,
        groups,
        friends,
        // last_active as recorded in Postgres (the gateway writes activity in batches, so it may lag a little).
        sessions: sessions.map((s) => ({
          id: s.id,
          client_id: s.clientId,
          device_type: s.deviceType,
          device_version: s.deviceVersion,
          app_version: s.appVersion,
          created_at: s.createdAt.toISOString(),
          last_active: s.lastActive,
          country: s.country ?? null,
          region: s.region ?? null,
        })),
      });
    },
  },
  events: {
    usage: 'events <userId> [--limit N]',
    summary: "the user's security events (audit trail), newest first, one JSON line each",
    async run(args, ctx) {
      const userId = idArg(args.positional[0], 'userId');
      // No existence check: the trail outlives the account's other rows.
      for (const event of await new AuditRepo(ctx.db).byUser(userId, limitFlag(args))) {
        const { origin } = event;
        ctx.print({
          id: event.id,
          at: event.at.toISOString(),
          user_id: event.userId,
          kind: event.kind,
          session_id: origin.sessionId,
          ip: origin.ip,
          client_id: origin.device?.clientId ?? null,
          device_type: origin.device?.deviceType ?? null,
          device_version: origin.device?.deviceVersion ?? null,
          app_version: origin.device?.appVersion ?? null,
          country: origin.geo.country ?? null,
          region: origin.geo.region ?? null,
          detail: event.detail,
        });
      }
    },
  },
};
