/** The example chat backend (examples/chat) as a process of its own, for the end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { OsmiumClient, Update } from '../../src/client/client.js';

/** Starts the example as `npm run example:chat:backend` does and waits for its "listening" line (60 s at most). */
export async function startChatBackend(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/chat/src/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the chat backend did not start within 60 s:\n${output.join('\n')}`));
    }, 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output.push(String(chunk));
      if (String(chunk).includes('"chat backend listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(String(chunk)));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the chat backend exited with ${code}:\n${output.join('\n')}`));
    });
  });
  return child;
}

/** Stops it (resuming it first if a test stopped it), unless it is gone already. */
export async function stopChatBackend(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Updates of `client` up to and including the first one `last` picks. */
export async function updatesUntil(client: OsmiumClient, last: (u: Update) => boolean): Promise<Update[]> {
  const seen: Update[] = [];
  for (;;) {
    const update = await client.nextUpdate(10_000);
    seen.push(update);
    if (last(update)) return seen;
  }
}
