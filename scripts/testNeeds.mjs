/**
 * What a test file needs started before it runs, read from what it imports
 * (its relative imports under test/ and scripts/, followed transitively), so
 * that `npm test -- <files>` starts only those servers and `npm run
 * test:unit` runs the files that need none and start no process. A new file joins the right group
 * by itself: importing test/helpers/stack.ts (or scripts/stack.mjs) means
 * Postgres and Redis; the Redis Cluster, PgBouncer, Chromium and the built
 * bundle follow from the helpers or the variables that reach them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/** The local files `file` imports, transitively (itself included), as paths relative to `root`. */
function closure(file, root) {
  const seen = new Map();
  const visit = (path) => {
    const name = relative(root, path);
    if (seen.has(name) || !existsSync(path)) return;
    const text = readFileSync(path, 'utf8');
    seen.set(name, text);
    for (const [, spec] of text.matchAll(IMPORT)) {
      let target = resolve(dirname(path), spec);
      // TypeScript sources are imported with .js
      if (target.endsWith('.js') && !existsSync(target)) target = target.replace(/\.js$/, '.ts');
      const inside = relative(root, target);
      if (inside.startsWith('test/') || inside.startsWith('scripts/')) visit(target);
    }
  };
  visit(resolve(file));
  return seen;
}

/**
 * `{ servers, redisCluster, pgbouncer, chromium, build, processes }` for one
 * test file: servers = Postgres and one Redis node; build = dist/ (processes
 * spawned as production runs them); processes = it starts programs of its own.
 */
export function needsOf(file, root) {
  const files = closure(file, root);
  const names = [...files.keys()];
  // stack.ts names every variable of the stack: what a file needs is read from the others.
  const texts = [...files].filter(([name]) => name !== 'test/helpers/stack.ts').map(([, text]) => text).join('\n');
  const has = (name) => names.includes(name);
  const servers = has('test/helpers/stack.ts') || has('scripts/stack.mjs');
  return {
    servers,
    redisCluster: has('test/helpers/redisCluster.ts') || texts.includes('TEST_REDIS_CLUSTER_NODES'),
    pgbouncer: texts.includes('TEST_PGBOUNCER_URL'),
    chromium: has('scripts/chromium.mjs'),
    build: has('test/helpers/entry.ts'),
    // Processes of its own (a clone's npm start, the embedded Postgres, a script's exit code): not for test:unit.
    processes: /from ['"]node:child_process['"]|startEmbeddedPostgres|runToExit/.test(texts),
  };
}

/** The union of the needs of `files`. */
export function needsOfAll(files, root) {
  const all = { servers: false, redisCluster: false, pgbouncer: false, chromium: false, build: false, processes: false };
  for (const file of files) for (const [k, v] of Object.entries(needsOf(file, root))) all[k] ||= v;
  return all;
}

export const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');
