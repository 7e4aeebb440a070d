/**
 * Operator CLI, run beside the gateway with the same environment:
 *   npm run admin -- help
 *   npm run admin -- <group> <command> [args]
 * Output: one JSON line per record on stdout (ids as decimal strings).
 * Errors: a message on stderr and a non-zero exit (2 usage, 1 failure).
 */
import { adminGroups } from '../src/admin/index.js';
import { parseArgs, UsageError } from '../src/admin/command.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
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
  if (!config.DATABASE_URL) {
    console.error('DATABASE_URL is not set: the admin CLI needs the gateway database');
    return 2;
  }
  const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
  await migrate(config.DATABASE_URL, log);
  const db = createPool(config.DATABASE_URL, log, 2);
  try {
    await command.run(parseArgs(rest), { config, db, print: (value) => console.log(JSON.stringify(value)) });
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
  }
}

process.exitCode = await main(process.argv.slice(2));
