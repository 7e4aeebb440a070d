/** `admin apps ...`: the registry of known client ids (Session.app_name). */
import { ClientAppsRepo } from '../store/clientAppsRepo.js';
import { UsageError, type AdminCommand } from './command.js';

export const appsCommands: Record<string, AdminCommand> = {
  add: {
    usage: 'add <client_id> <name>',
    summary: 'register (or rename) a client id so sessions show its app name',
    async run({ positional: [id, ...nameParts] }, { db, print }) {
      const clientId = Number(id);
      const name = nameParts.join(' ').trim();
      if (!Number.isInteger(clientId) || clientId < 0 || clientId > 0xffffffff) throw new UsageError('client_id must be a uint32');
      if (!name || name.length > 64) throw new UsageError('name must be 1 to 64 characters');
      await new ClientAppsRepo(db).upsert(clientId, name);
      print({ client_id: clientId, name });
    },
  },
  list: {
    usage: 'list',
    summary: 'list registered client ids',
    async run(_args, { db, print }) {
      for (const app of await new ClientAppsRepo(db).list()) print({ client_id: app.clientId, name: app.name });
    },
  },
};
