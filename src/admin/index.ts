/** Admin command groups: `npm run admin -- <group> <command> [args]`. */
import { appsCommands } from './apps.js';
import type { AdminCommand } from './command.js';
import { mailCommands } from './mail.js';

export const adminGroups: Record<string, { summary: string; commands: Record<string, AdminCommand> }> = {
  apps: { summary: 'client app registry', commands: appsCommands },
  mail: { summary: 'mail settings check', commands: mailCommands },
};
