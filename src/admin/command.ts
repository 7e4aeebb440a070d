/** Shape of an admin CLI command (see scripts/admin.ts). */
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import type { Pool } from '../store/postgres.js';

export interface AdminContext {
  config: Config;
  db: Pool;
  /** Prints one JSON line to stdout (ids as decimal strings). */
  print(value: unknown): void;
}

export interface AdminCommand {
  /** e.g. `create --owner <userId> --name <name>` */
  usage: string;
  summary: string;
  run(args: ParsedArgs, ctx: AdminContext): Promise<void>;
}

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string>;
}

/** A usage error: printed to stderr with the command's usage, exit code 2. */
export class UsageError extends Error {}

export function requireFlag(args: ParsedArgs, name: string): string {
  const value = args.flags.get(name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/**
 * Reads a command's arguments with `node:util`'s parseArgs, its options
 * taken from the command's usage text: `--name <value>` (or `--limit N`,
 * `--state a|b`) is a string option, a bare `--all` a boolean. An option the usage does not name,
 * or a string option without its value, is a usage error.
 */
export function parseCommandArgs(command: Pick<AdminCommand, 'usage'>, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  // `--name <id>`, `--limit N`, `--state a|b|c`: a value follows; `--all]` or `--all |`: a flag.
  for (const [, name, value] of command.usage.matchAll(/--([a-z][\w-]*)( [^\s|\]-][^\s\]]*)?/g)) {
    options[name!] = { type: value ? 'string' : 'boolean' };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const flags = new Map<string, string>();
  for (const [name, value] of Object.entries(parsed.values)) flags.set(name, value === true ? 'true' : String(value));
  return { positional: parsed.positionals, flags };
}
