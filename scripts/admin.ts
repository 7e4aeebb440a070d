/**
 * Operator CLI, run beside the gateway with the same environment:
 *   npm run admin -- help
 *   npm run admin -- <group> <command> [args]
 * Output: one JSON line per record on stdout (ids as decimal strings).
 * Errors: a message on stderr and a non-zero exit (2 usage, 1 failure).
 */
import { adminGroups } from '../src/admin/index.js';
import { parseCommandArgs, UsageError } from '../src/admin/command.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { attachEmbeddedPostgres } from '../src/embedded/embeddedPostgres.js';
import { createPool, migrate } from '../src/store/postgres.js';

function help(): string {
  const lines = ['usage: npm run admin -- <group> <command> [args]', ''];
  for (const [group, { summary, commands }] of Object.entries(adminGroups)) {
    lines.push(`${group}: ${summary}`);
    for (const command of Object.values(commands)) lines.push(`  ${group} ${command.usage}\n      ${command.summary}`);
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [groupName, commandName, ...rest] = argv;
  if (!groupName || groupName === 'help' || groupName === '--help' || groupName === '-h') {
    console.log(help());
    return 0;
  }
  const group = adminGroups[groupName];
  const command = group && commandName ? group.commands[commandName] : undefined;
  if (!command) {
    console.error(`unknown command: ${[groupName, commandName].filter(Boolean).join(' ')}\n\n${help()}`);
    return 2;
  }
  // Arguments first: a usage error costs no database start.
  let args;
  try {
    args = parseCommandArgs(command, rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\nusage: npm run admin -- ${groupName} ${command.usage}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
  // Embedded mode (no DATABASE_URL): the gateway's own Postgres under DATA_DIR.
  const embedded = config.DATABASE_URL ? undefined : await attachEmbeddedPostgres(config.dataDir, log);
  const databaseUrl = config.DATABASE_URL ?? embedded!.url;
  // Migrations take a session advisory lock: never through a transaction pooler (DATABASE_DIRECT_URL).
  await migrate(config.DATABASE_DIRECT_URL ?? databaseUrl, log);
  const db = createPool(databaseUrl, log, { max: 2 });
  try {
    await command.run(args, { config, db, print: (value) => console.log(JSON.stringify(value)) });
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\nusage: npm run admin -- ${groupName} ${command.usage}`);
      return 2;
    }
    console.error(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    await db.end();
    await embedded?.stop();
  }
}

process.exitCode = await main(process.argv.slice(2));
