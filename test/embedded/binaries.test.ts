/**
 * The embedded Postgres binaries run from a copy keyed by the package
 * version (src/embedded/binaries.ts). Two gateways starting at once on a
 * machine without the copy both get a complete one, made once; later starts
 * reuse it; a copy abandoned by a start that died is cleaned up; the copy
 * runs, with the shared-library symlinks the package's postinstall makes,
 * whether that script ran or not.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { platformPackage } from '../../src/embedded/binaries.js';
import { runToExit } from '../helpers/process.js';

/** Runs postgresBinaries(options) in a process of its own, as a gateway start does. */
async function prepareInProcess(options: { cacheDir: string; packageDir?: string }): Promise<{ dir: string; copied: boolean; postgres: string }> {
  const script = `import { postgresBinaries } from './src/embedded/binaries.ts';
console.log(JSON.stringify(await postgresBinaries(${JSON.stringify(options)})));`;
  const run = await runToExit(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { deadlineMs: 120_000 });
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as { dir: string; copied: boolean; postgres: string };
}

describe('embedded Postgres binaries copy', () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(process.env.TEST_STACK_DIR ?? tmpdir(), 'binaries-'));
    chmodSync(scratch, 0o755);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('two starts racing on an empty cache both get one complete copy, made once and reused after', async () => {
    const cacheDir = join(scratch, 'cache');
    mkdirSync(cacheDir);
    // A start that died mid-copy left its partial copy behind (a pid that no longer runs).
    const dead = await runToExit(process.execPath, ['-e', 'console.log(process.pid)']);
    const abandoned = join(cacheDir, `postgres-abandoned.partial-${dead.stdout.trim()}-0badc0de`);
    mkdirSync(abandoned);

    const [a, b] = await Promise.all([prepareInProcess({ cacheDir }), prepareInProcess({ cacheDir })]);
    assert.equal(a.dir, b.dir, 'both use the same copy');
    assert.equal([a, b].filter((r) => r.copied).length, 1, 'exactly one start made the copy');
    assert.deepEqual(readdirSync(cacheDir), [a.dir.split('/').at(-1)], 'nothing but the copy is left: no partial copies');
    assert.equal(existsSync(abandoned), false, 'the abandoned partial copy was removed');

    // The copy runs: its libraries (behind the recreated symlinks) load.
    const icu = readdirSync(join(a.dir, 'lib')).filter((f) => /^libicuuc\.so\.\d+$/.test(f));
    assert.equal(icu.length, 1, 'the ICU soname symlink exists');
    assert.ok(lstatSync(join(a.dir, 'lib', icu[0]!)).isSymbolicLink());
    const version = await runToExit(a.postgres, ['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^postgres \(PostgreSQL\) \d+/);

    const later = await prepareInProcess({ cacheDir });
    assert.deepEqual(later, { ...a, copied: false }, 'a later start reuses the copy');
  });

  // package.json's allowScripts denies the package's postinstall (it recreates the library symlinks);
  // npm before 11.16 runs it anyway. Either way the copy must run.
  for (const postinstall of ['ran', 'did not run'] as const) {
    it(`runs whether the package's postinstall ${postinstall}`, async () => {
      const packageDir = join(scratch, `package-${postinstall.replace(/ /g, '-')}`);
      // The installed package (its entry is dist/index.js), copied as npm would have left it.
      const installed = dirname(dirname(fileURLToPath(import.meta.resolve(platformPackage()))));
      cpSync(installed, packageDir, { recursive: true, verbatimSymlinks: true });
      const links = JSON.parse(readFileSync(join(packageDir, 'native', 'pg-symlinks.json'), 'utf8')) as Array<{ target: string }>;
      assert.ok(links.length > 0);
      for (const { target } of links) rmSync(join(packageDir, target), { force: true });
      if (postinstall === 'ran') {
        const run = await runToExit(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: packageDir });
        assert.equal(run.code, 0, run.stderr);
        assert.ok(lstatSync(join(packageDir, links[0]!.target)).isSymbolicLink(), 'the postinstall made its symlinks');
      }
      const copy = await prepareInProcess({ cacheDir: join(scratch, `cache-${postinstall.replace(/ /g, '-')}`), packageDir });
      assert.equal(copy.copied, true);
      for (const { target } of links) assert.ok(existsSync(join(copy.dir, relative('native', target))), `${target} in the copy`);
      const version = await runToExit(copy.postgres, ['--version']);
      assert.equal(version.code, 0, version.stderr);
    });
  }
});
