/**
 * The quick start from a clone that only its owner may enter (mode 0700, as
 * a clone in /root is): `npm start` with no settings builds dist/, starts the
 * embedded Postgres and serves. As root the server runs as the `postgres`
 * user, who cannot enter the clone, so neither the cluster nor the binaries
 * it runs may live inside it.
 *
 * The clone is of this repository's HEAD (commit before running it); its
 * node_modules is a copy of this checkout's, so the binaries really sit
 * inside the 0700 folder, as after `npm ci` there. Without the platform's
 * Postgres package the start says so in one line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import getPort from 'get-port';
import { OsmiumClient } from '../../src/client/client.js';
import { platformPackage } from '../../src/embedded/binaries.js';
import { embeddedPaths } from '../../src/embedded/embeddedPostgres.js';
import { readyz, runToExit, startProcess } from '../helpers/process.js';

const REPO = join(import.meta.dirname, '..', '..');

describe('npm start from a clone in a folder only its owner may enter', () => {
  let root: string;
  let clone: string;
  let dataDir: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'osmium-clone-'));
    chmodSync(root, 0o700);
    clone = join(root, 'osmium');
    dataDir = join(clone, 'data');
    execFileSync('git', ['clone', '--quiet', REPO, clone]);
    execFileSync('cp', ['-a', join(REPO, 'node_modules'), join(clone, 'node_modules')]);
  });
  after(() => {
    // As root the cluster lives outside the clone (in /var/lib/osmium-gateway/<hash of DATA_DIR>): remove it too.
    const cluster = embeddedPaths(dataDir).cluster;
    if (!cluster.startsWith(root)) rmSync(dirname(cluster), { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });

  /** A newcomer's environment: no settings of ours (DATA_DIR defaults to ./data in the clone). */
  const env = (port: number) => {
    const clean: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', HOST: '127.0.0.1', BCRYPT_COST: '4', PORT: String(port) };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'DATA_DIR', 'WORKERS', 'NODE_ENV']) delete clean[name];
    return clean;
  };

  it('without the Postgres binaries package: one line saying what is missing and what to do', async () => {
    const installed = join(clone, 'node_modules', platformPackage());
    const aside = join(root, 'aside');
    mkdirSync(aside);
    renameSync(installed, join(aside, 'package'));
    try {
      const run = await runToExit('npm', ['start', '--silent'], { cwd: clone, env: env(await getPort()), deadlineMs: 120_000 });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      const said = run.stderr.split('\n').filter((l) => l.startsWith('cannot start:'));
      assert.deepEqual(said, [
        `cannot start: the embedded Postgres binaries for ${process.platform}-${process.arch} are missing (${platformPackage()} is not installed): run npm ci, or set DATABASE_URL to a Postgres server`,
      ]);
    } finally {
      renameSync(join(aside, 'package'), installed);
    }
  });

  it('starts, serves a sign-up and stops on SIGTERM; Postgres runs from outside the clone', async () => {
    const port = await getPort();
    const npm = startProcess('npm', ['start'], { cwd: clone, env: env(port) });
    try {
      await readyz(port, npm, 120_000);
      assert.match(await npm.line(/WebSocket URL: /), new RegExp(`ws://127\\.0\\.0\\.1:${port}`));
      await npm.line(/try it: npm run loadtest/);
      assert.match(await npm.line(/web console: /), new RegExp(`http://127\\.0\\.0\\.1:${port}/console`));
      assert.ok(existsSync(join(clone, 'dist', 'main.js')), 'npm start built dist/');
      assert.equal((await fetch(`http://127.0.0.1:${port}/console/`)).status, 200, 'and the console');

      const client = await OsmiumClient.connect(`ws://127.0.0.1:${port}`);
      const signedUp = await client.call('auth_sign_up', { email: 'clone@example.test', password: 'clone password 1', name: 'Clone' });
      assert.ok(signedUp.authorization?.token);
      await client.close();

      const cluster = embeddedPaths(dataDir).cluster;
      const postgresPid = Number(readFileSync(join(cluster, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const binary = readlinkSync(`/proc/${postgresPid}/exe`);
      assert.ok(!binary.startsWith(root), `Postgres runs from ${binary}, outside the clone`);
      if (process.getuid?.() === 0) {
        assert.ok(!cluster.startsWith(root), `as root the cluster lives outside the clone: ${cluster}`);
        assert.notEqual(statSync(`/proc/${postgresPid}`).uid, 0, 'as root, Postgres runs as another user');
      }

      // The gateway is npm's child (exec): SIGTERM to it, as a supervisor sends, stops all of it cleanly.
      const gatewayPid = (JSON.parse((await npm.line(/"msg":"gateway listening"/)).trim()) as { pid: number }).pid;
      process.kill(gatewayPid, 'SIGTERM');
      assert.equal(await npm.exited(), 0);
      assert.equal(existsSync(join(cluster, 'postmaster.pid')), false, 'the embedded Postgres stopped with it');
    } finally {
      await npm.stop('SIGKILL');
    }
  });
});
