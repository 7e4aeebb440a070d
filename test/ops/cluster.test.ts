/**
 * WORKERS=2: two processes share the port and behave as one gateway. Each
 * worker listens on the port with a socket of its own (SO_REUSEPORT), so the
 * kernel hands connections to the workers and the primary accepts none. They
 * coordinate only through Redis and Postgres, so a revocation through a socket
 * on one worker closes sockets on the other; /metrics on any worker reports
 * the whole machine; SIGTERM to the primary stops both cleanly. The primary
 * (src/cluster/primary.ts) replaces a worker that dies, and gives up after
 * three replacements in a row fail to start.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { OsmiumClient } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { guest, person } from '../helpers/accounts.js';
import { createDatabase, DATABASE_URL, REDIS_URL, spawnGateway, uniqueEmail, type SpawnedGateway } from '../helpers/stack.js';
import { eventually } from '../helpers/eventually.js';
import { metric } from '../helpers/metrics.js';
import { waitForOutput } from './output.js';

const PASSWORD = 'cluster password';
/** Sockets signed in beside the first. */
const SOCKETS = 8;
/** The kernel picks a worker per connection by a hash of its addresses: 64 guests all on one of 2 workers would be a 2^-63 chance. */
const MAX_GUESTS = 64;

/** The snowflake worker id inside an id: bits 12-21. */
function workerIdOf(id: { toString(): string }): number {
  return Number((BigInt(id.toString()) >> 12n) & 1023n);
}

/**
 * Sockets listening on `port` (TCP state 0A in /proc/net/tcp and tcp6): one
 * per worker when each worker has its own, one for the whole cluster when
 * the primary holds node:cluster's shared socket.
 */
function listeningSockets(port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (local?.endsWith(hexPort) && state === '0A') count++;
    }
  }
  return count;
}

/** Signs up guests, each on a new socket, until sessions from `workers` snowflake worker ids were seen (at most MAX_GUESTS). */
async function workersReached(url: string, workers: number): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let i = 0; i < MAX_GUESTS && seen.size < workers; i++) {
    const client = await OsmiumClient.connect(url);
    const auth = await guest({ url }, `Guest ${i}`, { client });
    seen.add(workerIdOf(auth.authorization!.session_id!));
    await client.close();
  }
  return seen;
}

describe('two cluster workers', () => {
  let gw: SpawnedGateway;
  before(async () => {
    gw = await spawnGateway({
      DATABASE_URL: await createDatabase(),
      REDIS_URL,
      REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
      WORKERS: '2',
    });
    await waitForOutput(gw, /"msg":"gateway listening"/, 2);
  });
  after(async () => {
    await gw.stop('SIGKILL');
  });

  it('behave as one: revocation through one worker kicks sockets on the other, metrics cover both, SIGTERM stops both', async () => {
    const listening = gw.output.filter((l) => l.includes('"msg":"gateway listening"')).map((l) => JSON.parse(l) as { pid: number; port: number; workerId: number });
    assert.equal(new Set(listening.map((l) => l.pid)).size, 2, 'two processes');
    assert.deepEqual(new Set(listening.map((l) => l.port)), new Set([gw.port]), 'on one port');
    const metricsPorts = gw.output.filter((l) => l.includes('"msg":"gateway listening"')).map((l) => (JSON.parse(l) as { metricsPort: number }).metricsPort);
    assert.deepEqual(new Set(metricsPorts), new Set([gw.metricsPort]), 'and one metrics port');
    assert.equal(new Set(listening.map((l) => l.workerId)).size, 2, 'each with its own snowflake worker id');
    assert.equal(gw.output.filter((l) => l.includes('applied migrations')).length, 1, 'migrations ran once');
    const reusing = gw.output.filter((l) => l.includes('"msg":"gateway listening"')).map((l) => (JSON.parse(l) as { reusePort: boolean }).reusePort);
    assert.deepEqual(reusing, [true, true], 'each worker listens with SO_REUSEPORT');
    assert.equal(listeningSockets(gw.port), 2, 'two listening sockets on the port, one per worker (none held by the primary)');
    assert.equal((await workersReached(gw.url, 2)).size, 2, 'the kernel hands new connections to both workers');

    const email = uniqueEmail('cluster');
    const owner = await OsmiumClient.connect(gw.url);
    const ownerAuth = await person(gw, { client: owner, email, password: PASSWORD, name: 'Cluster' });
    const devices: OsmiumClient[] = [];
    const sessionIds = [];
    for (let i = 0; i < SOCKETS; i++) {
      const device = await OsmiumClient.connect(gw.url);
      const auth = await device.call('auth_sign_in', { email, password: PASSWORD });
      devices.push(device);
      sessionIds.push(auth.authorization!.session_id!);
    }
    const workers = new Set([ownerAuth.authorization!.session_id!, ...sessionIds].map(workerIdOf));
    assert.equal(workers.size, 2, 'both workers served sign-ins');

    // Scrapes land on either worker; each answers for both.
    for (let i = 0; i < 4; i++) {
      assert.equal(await metric(gw.metricsPort, 'osmium_connections_open'), SOCKETS + 1);
      assert.equal(await metric(gw.metricsPort, 'osmium_connections_authorized'), SOCKETS + 1);
    }

    await owner.call('auth_revoke_sessions', { session_ids: sessionIds });
    for (const device of devices) {
      const update = await device.nextUpdate();
      assert.ok(update.session_deleted, 'session_deleted pushed before the close');
      assert.equal((await device.closed).code, CloseCode.SESSION_REVOKED);
    }
    assert.ok(owner.isOpen, 'the revoking session stays');
    // The workers count a close when their socket's close event has run: a moment after the clients saw it.
    await eventually(async () => (await metric(gw.metricsPort, 'osmium_connections_open')) === 1, { what: 'the closed sockets gone from osmium_connections_open' });

    const bystander = await OsmiumClient.connect(gw.url);
    await bystander.call('core_initialize', {});
    const code = await gw.stop('SIGTERM');
    assert.equal((await owner.closed).code, CloseCode.GOING_AWAY);
    assert.equal((await bystander.closed).code, CloseCode.GOING_AWAY);
    assert.equal(code, 0, 'the primary waited for both workers and exited 0');
    assert.equal(gw.output.filter((l) => l.includes('"msg":"stopped"')).length, 2, 'both workers stopped gracefully');
  });
});

describe('cluster primary', () => {
  it('replaces a worker that dies, and still stops cleanly', async () => {
    const gw = await spawnGateway({
      DATABASE_URL: await createDatabase(),
      REDIS_URL,
      REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
      WORKERS: '2',
    });
    try {
      const [first] = await waitForOutput(gw, /"msg":"gateway listening"/, 2);
      process.kill((JSON.parse(first!) as { pid: number }).pid, 'SIGKILL');
      await waitForOutput(gw, /worker died; starting another/);
      assert.equal(listeningSockets(gw.port), 1, "the dead worker's socket left the port; the other kept serving");
      await waitForOutput(gw, /"msg":"gateway listening"/, 3);
      assert.equal(listeningSockets(gw.port), 2, 'the replacement listens on the port with a socket of its own');
      assert.equal((await workersReached(gw.url, 2)).size, 2, 'new connections reach the surviving worker and the replacement');
    } finally {
      assert.equal(await gw.stop('SIGTERM'), 0);
    }
  });

  it('gives up with exit 1 when replacement workers keep failing to start', async () => {
    const databaseUrl = await createDatabase();
    const gw = await spawnGateway({
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
      WORKERS: '2',
      SHUTDOWN_GRACE_MS: '1000',
    });
    try {
      const [first] = await waitForOutput(gw, /"msg":"gateway listening"/, 2);
      // The database goes away while both workers serve: no replacement can start without it.
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE ${new URL(databaseUrl).pathname.slice(1)} WITH (FORCE)`);
      await admin.end();
      const exited = once(gw.process, 'exit');
      process.kill((JSON.parse(first!) as { pid: number }).pid, 'SIGKILL');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 1);
      const failures = gw.output.filter((l) => l.includes('a replacement worker could not start'));
      assert.equal(failures.length, 3, 'three replacements tried');
      for (const line of failures) assert.match(line, /has no database/, 'each says why');
      assert.ok(gw.output.some((l) => /3 workers in a row died before they were ready; giving up/.test(l)));
    } finally {
      await gw.stop('SIGKILL');
    }
  });
});
