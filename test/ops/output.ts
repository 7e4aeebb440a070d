/** Waiting on what a spawned gateway prints. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SpawnedGateway } from '../helpers/stack.js';

/** Resolves once `count` output lines match `pattern`; rejects with the output after `timeoutMs`. */
export async function waitForOutput(gw: SpawnedGateway, pattern: RegExp, count = 1, timeoutMs = 20_000): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const lines = gw.output.filter((l) => pattern.test(l));
    if (lines.length >= count) return lines;
    if (Date.now() > until) throw new Error(`expected ${count} lines matching ${pattern}, output:\n${gw.output.join('\n')}`);
    await sleep(20);
  }
}
