/** `admin user ...`: what an operator needs to know about one user. */
import { CommunitiesRepo } from '../store/communitiesRepo.js';
import { FriendsRepo } from '../store/friendsRepo.js';
import { GroupsRepo } from '../store/groupsRepo.js';
import { SessionsRepo } from '../store/sessionsRepo.js';
import { UsersRepo } from '../store/usersRepo.js';
import type { AdminCommand } from './command.js';
import { idArg } from './commandSupport.js';

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
};
