/** Admin command groups: `npm run admin -- <group> <command> [args]`. */
import { appsCommands } from './apps.js';
import { botCommands } from './bot.js';
import type { AdminCommand } from './command.js';
import { communityCommands } from './community.js';
import { eventCommands } from './events.js';
import { groupCommands } from './group.js';
import { inviteCommands } from './invite.js';
import { keysCommands } from './keys.js';
import { mailCommands } from './mail.js';
import { totpCommands } from './totp.js';
import { userCommands } from './user.js';

export const adminGroups: Record<string, { summary: string; commands: Record<string, AdminCommand> }> = {
  apps: { summary: 'client app registry', commands: appsCommands },
  mail: { summary: 'mail settings check', commands: mailCommands },
  community: { summary: 'communities (invite targets)', commands: communityCommands },
  group: { summary: 'group chats (invite targets)', commands: groupCommands },
  user: { summary: 'users', commands: userCommands },
  bot: { summary: 'bot accounts (token sign-in for programs)', commands: botCommands },
  invite: { summary: 'invites', commands: inviteCommands },
  keys: { summary: 'JWT signing keys (rotation)', commands: keysCommands },
  totp: { summary: 'encryption at rest of TOTP secrets (key rotation)', commands: totpCommands },
  events: { summary: 'account events (the webhook outbox): list, retry, replay', commands: eventCommands },
};
