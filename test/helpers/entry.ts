/**
 * How tests start the gateway and the admin CLI in processes of their own.
 * Under `npm test` they run what production runs, the bundles of
 * `npm run build` (TEST_DIST_DIR: dist/main.js, dist/admin.js), which
 * scripts/test.mjs builds when a source changed; run any other way, the
 * TypeScript sources through tsx.
 */
import { join } from 'node:path';

/** The bundle `npm run build` makes of each entry point. */
const BUNDLES: Record<string, string> = { 'src/main.ts': 'main.js', 'scripts/admin.ts': 'admin.js' };

/** `node` arguments that run an entry point of the repository (`src/main.ts`, `scripts/admin.ts`). */
export function nodeArgs(entry: string): string[] {
  const dist = process.env.TEST_DIST_DIR;
  const bundle = BUNDLES[entry];
  return dist && bundle ? [join(dist, bundle)] : ['--import', 'tsx', entry];
}
