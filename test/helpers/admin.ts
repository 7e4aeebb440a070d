/** Runs the admin CLI as operators do, in its own process. */
import { nodeArgs } from './entry.js';
import { runToExit } from './process.js';

export interface AdminRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON lines. */
  lines: Array<Record<string, unknown>>;
}

export async function runAdmin(args: string[], env: Record<string, string>): Promise<AdminRun> {
  const { code, stdout, stderr } = await runToExit(process.execPath, [...nodeArgs('scripts/admin.ts'), ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    deadlineMs: 120_000,
  });
  const lines = stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stdout, stderr, lines };
}
