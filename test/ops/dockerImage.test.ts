/**
 * The Docker image, checked without Docker (which cannot run here): the
 * Dockerfile's own steps are performed in a scratch folder
 * (test/ops/dockerfile.ts: npm ci, the esbuild build, the prune, the copies
 * into the runtime stage) and the result is started with the image's CMD,
 * environment and user (`node`, created when missing; a run that is not
 * root cannot switch users and runs it as itself), in the embedded mode
 * its default settings give and in server mode as docker-compose.yml runs it.
 * Its HEALTHCHECK must pass, its admin CLI must work, and its STOPSIGNAL must
 * stop it cleanly.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import getPort from 'get-port';
import { OsmiumClient } from '../../src/client/client.js';
import { person } from '../helpers/accounts.js';
import { createDatabase, REDIS_URL, uniqueEmail } from '../helpers/stack.js';
import { buildStages, ensureUser, imageEnv, inStage, type Stage } from './dockerfile.js';
import { eventually } from '../helpers/eventually.js';
import { readyz, runToExit, startProcess, type Running } from '../helpers/process.js';

const REPO = join(import.meta.dirname, '..', '..');
const isRoot = process.getuid?.() === 0;

describe('the Docker image, built step by step without Docker', () => {
  let scratch: string;
  let image: Stage;
  let home: string;
  before(() => {
    const from = readFileSync(join(REPO, 'Dockerfile'), 'utf8').match(/^FROM node:(\d+)/m)?.[1];
    assert.equal(process.versions.node.split('.')[0], from, 'the host node stands in for the base image: same major version');
    home = isRoot ? ensureUser('node').home : process.env.HOME!;
    scratch = mkdtempSync(join(tmpdir(), 'osmium-image-'));
    chmodSync(scratch, 0o755); // the node user must reach the image's folder
    // The host's npm cache and PATH stand in for the builder's network and base image.
    const stages = buildStages(join(REPO, 'Dockerfile'), scratch, { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_prefer_offline: 'true' });
    image = stages.at(-1)!;
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  /** A command line run as the image's user. */
  function asImageUser(argv: string[]): [string, string[]] {
    return isRoot ? ['runuser', ['-u', image.user!, '--', ...argv]] : [argv[0]!, argv.slice(1)];
  }

  /** The image's environment (as its user sees it) plus `env`. */
  function containerEnv(env: Record<string, string>): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, HOME: home, ...imageEnv(image), LOG_LEVEL: 'info', BCRYPT_COST: '4', ...env };
  }

  /**
   * `docker stop`: STOPSIGNAL to the container's main process, the gateway
   * itself (here behind runuser, which would answer the signal on its own
   * behalf), then its exit code.
   */
  async function stopLikeDocker(gateway: Running): Promise<number | null> {
    const main = isRoot ? Number((await runToExit('pgrep', ['-P', String(gateway.child.pid)])).stdout.trim()) : gateway.child.pid!;
    process.kill(main, image.stopSignal);
    return gateway.exited();
  }

  /** Starts the image's CMD. */
  function run(env: Record<string, string>): Running {
    // Its own process group: cleaning up after a failure reaches the workers behind runuser too.
    return startProcess(...asImageUser(image.cmd!), { cwd: inStage(image, image.workdir), env: containerEnv(env), detached: true });
  }

  it('holds compiled JavaScript and production dependencies only, and runs as node', () => {
    assert.equal(image.user, 'node');
    assert.deepEqual(image.cmd, ['node', 'dist/main.js']);
    const app = inStage(image, image.workdir);
    assert.ok(existsSync(join(app, 'dist', 'main.js')));
    assert.ok(existsSync(join(app, 'dist', 'server', 'migrations')));
    assert.ok(existsSync(join(app, 'dist', 'browser', 'index.html')), 'the web console');
    assert.equal(existsSync(join(app, 'src')), false, 'no TypeScript sources');
    for (const dev of ['tsx', 'typescript', 'esbuild']) assert.equal(existsSync(join(app, 'node_modules', dev)), false, `no ${dev}`);
  });

  it('embedded mode (the default settings): ready, healthy, serves, admin CLI works, stops on STOPSIGNAL', async () => {
    const port = await getPort();
    const gateway = run({ PORT: String(port) });
    try {
      await readyz(port, gateway, 120_000);
      const health = await runToExit(...asImageUser(image.healthcheck!), { env: containerEnv({ PORT: String(port) }) });
      assert.equal(health.code, 0, `HEALTHCHECK: ${health.stderr}`);
      const page = await fetch(`http://127.0.0.1:${port}/console/`);
      assert.equal(page.status, 200, 'the web console (on by default in this mode) is in the image');
      assert.match(await page.text(), /<html/i);

      const client = await OsmiumClient.connect(`ws://127.0.0.1:${port}`);
      const email = uniqueEmail('image');
      assert.ok((await person({ url: `ws://127.0.0.1:${port}` }, { client, email, password: 'image password 1', name: 'Image' })).authorization?.token);
      assert.ok((await client.call('auth_sign_in', { email, password: 'image password 1' })).authorization?.token, 'bcrypt works in the image');
      await client.close();

      const admin = await runToExit(...asImageUser(['node', 'dist/admin.js', 'keys', 'list']), {
        cwd: inStage(image, image.workdir),
        env: containerEnv({ LOG_LEVEL: 'warn' }),
      });
      assert.equal(admin.code, 0, admin.stderr);
      assert.equal(admin.stdout.trim().split('\n').length, 1, 'one signing key listed');

      assert.ok(existsSync(join(imageEnv(image).DATA_DIR!, 'postgres', 'PG_VERSION')), 'the cluster lives in the image\'s DATA_DIR');
      assert.equal(await stopLikeDocker(gateway), 0);
    } finally {
      await gateway.stop('SIGKILL');
    }
  });

  it('server mode, as docker-compose.yml runs it: ready on Postgres and Redis', async () => {
    const port = await getPort();
    const gateway = run({ PORT: String(port), DATABASE_URL: await createDatabase(), REDIS_URL, WORKERS: '2' });
    try {
      await readyz(port, gateway, 120_000);
      // Each worker listens on the port itself: /readyz may come from the first one ready while the other
      // still starts. Stopped when both said so, as a container is once its health check has passed for long.
      await eventually(() => gateway.lines.filter((l) => l.includes('"msg":"ready"')).length >= 2, { what: 'both workers ready', timeoutMs: 120_000 });
      assert.equal(await stopLikeDocker(gateway), 0, gateway.lines.slice(-20).join('\n'));
    } finally {
      await gateway.stop('SIGKILL');
    }
  });
});
