/** Shape of an admin CLI command (see scripts/admin.ts). */
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

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) flags.set(arg.slice(2), argv[++i]!);
      else flags.set(arg.slice(2), 'true');
    } else positional.push(arg);
  }
  return { positional, flags };
}
