/**
 * How tests start the gateway and the admin CLI in processes of their own.
 * Under `npm test` they run the JavaScript copy scripts/test.mjs transpiled
 * once (TEST_BUILD_DIR, the same esbuild transform tsx would apply in every
 * process); run any other way, through tsx.
 */
import { join } from 'node:path';

/** `node` arguments that run a TypeScript entry point of the repository (e.g. `src/main.ts`). */
export function nodeArgs(entry: string): string[] {
  const built = process.env.TEST_BUILD_DIR;
  return built ? [join(built, entry.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', entry];
}
