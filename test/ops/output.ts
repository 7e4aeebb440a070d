/** Waiting on what a spawned gateway prints. */
import { eventually } from '../helpers/eventually.js';
import type { SpawnedGateway } from '../helpers/stack.js';

/** Resolves once `count` output lines match `pattern`; rejects with the output after `timeoutMs`. */
export async function waitForOutput(gw: SpawnedGateway, pattern: RegExp, count = 1, timeoutMs = 60_000): Promise<string[]> {
  try {
    return await eventually(
      () => {
        const lines = gw.output.filter((l) => pattern.test(l));
        return lines.length >= count ? lines : undefined;
      },
      { what: `${count} output lines matching ${pattern}`, timeoutMs },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; output:\n${gw.output.join('\n')}`);
  }
}
