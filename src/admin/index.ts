/** Admin command groups: `npm run admin -- <group> <command> [args]`. */
import { appsCommands } from './apps.js';
import type { AdminCommand } from './command.js';

export const adminGroups: Record<string, { summary: string; commands: Record<string, AdminCommand> }> = {
  apps: { summary: 'client app registry', commands: appsCommands },
};
