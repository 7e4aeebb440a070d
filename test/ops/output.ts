/** Waiting on what a spawned gateway prints. */
import type { SpawnedGateway } from '../helpers/stack.js';

/** Resolves once `count` output lines match `pattern` (with all that match); rejects with the output after `timeoutMs`. */
export function waitForOutput(gw: SpawnedGateway, pattern: RegExp, count = 1, timeoutMs = 60_000): Promise<string[]> {
  return gw.running.linesMatching(pattern, count, timeoutMs);
}
