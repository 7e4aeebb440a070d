/**
 * Revocation is final, whatever the concurrency: once a revocation is
 * answered, no socket anywhere serves a request for that session, however
 * many sockets were authorizing its token at that moment, on one instance or
 * two. And nothing leaks: a socket closed while its Authorize is in flight
 * leaves no binding behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { OsmiumClient, type RpcResult } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { guest, person, signIn } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { createDatabase, REDIS_ENV, spawnGateway, startGateway, uniqueEmail, type SpawnedGateway, type TestGateway } from '../helpers/stack.js';
import { assertRpcError, code } from '../helpers/results.js';

const PASSWORD = 'revocation is final';
const RACERS = 150;

/** What a socket that raced the revocation ended up as. */
type Outcome = 'refused' | 'closed as revoked' | 'SERVED AFTER REVOCATION' | 'unbound';

/**
 * Fires RACERS Authorizes of the stolen token at once, across the given
 * gateways, and revokes the session from the owner's socket while they are in
 * flight. After the revocation is answered, every racer asks for its
 * sessions: none may be served.
 */
async function race(urls: string[]): Promise<Map<Outcome, number>> {
  const email = uniqueEmail('stolen');
  // Each socket opens when it is about to speak: one left silent while a slow sign-up ran was closed by HANDSHAKE_TIMEOUT_MS on a loaded machine.
  const owner = (await person({ url: urls[0]! }, { email, password: PASSWORD, name: 'Owner' })).client;
  const clients = [owner];
  try {
    const victim = await signIn({ url: urls[0]! }, { email, password: PASSWORD });
    clients.push(victim.client);
    const stolen = victim.authorization;
    const racers = await Promise.all(Array.from({ length: RACERS }, (_, i) => OsmiumClient.connect(urls[i % urls.length]!)));
    clients.push(...racers);
    const authorizing = racers.map((c) =>
      Promise.race([c.request('auth_authorize', { token: stolen.token! }).catch(() => null), c.closed.then(() => null)]),
    );
    await owner.call('auth_revoke_sessions', { session_ids: [stolen.session_id!] });
    // The revocation is answered: from here on, no racer may be served.
    const outcomes = await Promise.all(
      racers.map(async (c, i): Promise<Outcome> => {
        // A socket closed meanwhile answers nothing: that is not being served.
        const asked = await Promise.race([c.request('auth_get_sessions', {}).catch(() => null), c.closed.then(() => null)]);
        const authorized: RpcResult | null = await authorizing[i]!;
        if (asked?.sessions) return 'SERVED AFTER REVOCATION';
        if (authorized && code(authorized) === ErrorCode.FORBIDDEN) return 'refused';
        // Authorized before the revocation: it must be closed as revoked.
        const closed = await Promise.race([c.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000))]);
        return closed?.code === CloseCode.SESSION_REVOKED ? 'closed as revoked' : 'unbound';
      }),
    );
    const counts = new Map<Outcome, number>();
    for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
    return counts;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

describe('revocation is final on one instance', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  it(`${RACERS} sockets authorizing a stolen token while the owner revokes it: none is served after the answer`, async () => {
    const counts = await race([gw.url]);
    assert.equal(counts.get('SERVED AFTER REVOCATION') ?? 0, 0, JSON.stringify([...counts]));
    assert.equal(counts.get('unbound') ?? 0, 0, `a racer bound before the revocation must be closed with 4001: ${JSON.stringify([...counts])}`);
    assert.equal((counts.get('refused') ?? 0) + (counts.get('closed as revoked') ?? 0), RACERS);
    await eventually(() => gw.app.gateway.authorizedConnections === 0, { what: 'no socket left bound' });
  });

  it('a socket closed while its Authorize is in flight leaves no binding behind', async () => {
    const email = uniqueEmail('leak');
    const owner = await gw.connect();
    const { token } = (await person(gw, { client: owner, email, password: PASSWORD, name: 'Leak' })).authorization!;
    await owner.close();
    const sockets = await Promise.all(Array.from({ length: 300 }, () => OsmiumClient.connect(gw.url)));
    for (const s of sockets) {
      s.request('auth_authorize', { token: token! }).catch(() => undefined);
      s.socket.terminate();
    }
    await eventually(() => gw.app.gateway.openConnections === 0, { what: 'every socket closed' });
    await eventually(() => gw.app.gateway.authorizedConnections === 0, { what: 'no binding left behind', timeoutMs: 10_000 });
    const metrics = await (await fetch(`http://127.0.0.1:${gw.app.metricsPort}/metrics`)).text();
    assert.equal(/^osmium_connections_authorized (\S+)$/m.exec(metrics)?.[1], '0', 'the gauge is back to 0');
  });

  it('refuses a token with trailing padding or any other re-encoding', async () => {
    const client = await gw.connect();
    const { token } = (await guest(gw, 'Padding', { client })).authorization!;
    for (const altered of [`${token}=`, `${token}==`, `${token} `, ` ${token}`]) {
      const other = await gw.connect();
      const r = await other.request('auth_authorize', { token: altered });
      assertRpcError(r, ErrorCode.FORBIDDEN, undefined, JSON.stringify(altered));
    }
    const again = await gw.connect();
    assert.ok((await again.call('auth_authorize', { token: token! })).authorization, 'the exact token still works');
  });
});

describe('revocation is final across two instances', () => {
  let one: SpawnedGateway;
  let two: SpawnedGateway;
  before(async () => {
    const env = { DATABASE_URL: await createDatabase(), ...REDIS_ENV, REDIS_PREFIX: `rf${randomBytes(3).toString('hex')}:` };
    [one, two] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
  });
  after(async () => {
    await Promise.all([one.stop(), two.stop()]);
  });

  it(`${RACERS} sockets on two instances authorizing a stolen token while the owner revokes it: none is served after the answer`, async () => {
    const counts = await race([one.url, two.url]);
    assert.equal(counts.get('SERVED AFTER REVOCATION') ?? 0, 0, JSON.stringify([...counts]));
    assert.equal(counts.get('unbound') ?? 0, 0, JSON.stringify([...counts]));
  });
});
