/**
 * Every instance hears a revocation twice, from the broker and from
 * Postgres's NOTIFY: it must handle it once (issue 24), and the NOTIFY must
 * still reach every instance's sockets when the broker never carries the
 * message (the fallback it is for).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { guest } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { assertRpcError } from '../helpers/results.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

/** The debug lines `msg` (`revocation handled`, `revocation already handled`) of a gateway that name `sessionId`. */
function lines(gw: TestGateway, sessionId: string, msg = 'revocation handled') {
  return gw.logs.filter((l) => l.msg === msg && (l.sessions as string[]).includes(sessionId));
}
const handledLines = (gw: TestGateway, sessionId: string) => lines(gw, sessionId);

describe('a revocation is handled once per instance', () => {
  let gw1: TestGateway;
  let gw2: TestGateway;
  before(async () => {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    gw1 = await startGateway({ REDIS_PREFIX: prefix });
    gw2 = await startGateway({ REDIS_PREFIX: prefix }, { databaseUrl: gw1.databaseUrl });
  });
  after(async () => {
    await gw2?.close();
    await gw1?.close();
  });

  it('broker and NOTIFY both arrive; each instance closes the socket and handles the revocation once', async () => {
    const owner = await guest(gw1);
    const elsewhere = await gw2.connect();
    await elsewhere.call('auth_authorize', { token: owner.token });
    const other = await gw2.connect();
    const second = await guest(gw2, 'Second', { client: other });
    await owner.client.call('auth_revoke_sessions', { session_ids: [owner.authorization.session_id!] });
    assert.equal((await elsewhere.closed).code, CloseCode.SESSION_REVOKED);
    // Both messages had their chance: a later revocation's lines are there on both instances.
    await (await gw2.connect()).call('auth_authorize', { token: second.authorization!.token! });
    await other.call('auth_revoke_sessions', { session_ids: [second.authorization!.session_id!] });
    // Messages of one channel arrive in order: once both of the second revocation's are in, both of the first's are.
    const secondId = String(second.authorization!.session_id);
    for (const gw of [gw1, gw2]) {
      await eventually(() => lines(gw, secondId).length + lines(gw, secondId, 'revocation already handled').length === 2, { what: 'both messages of the second revocation' });
      assert.equal(handledLines(gw, owner.sessionId).length, 1, 'handled once on each instance');
      assert.equal(lines(gw, owner.sessionId, 'revocation already handled').length, 1, 'its second message recognised and skipped');
    }
  });
});

describe('a revocation the broker never carries still reaches every instance (NOTIFY)', () => {
  let gw1: TestGateway;
  let gw2: TestGateway;
  before(async () => {
    // One database, two Redis prefixes: the instances' brokers never hear each other.
    gw1 = await startGateway({ REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:` });
    gw2 = await startGateway({ REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:` }, { databaseUrl: gw1.databaseUrl });
  });
  after(async () => {
    await gw2?.close();
    await gw1?.close();
  });

  it('closes the socket on the other instance (4001) and refuses the token there', async () => {
    const owner = await guest(gw1);
    const elsewhere = await gw2.connect();
    await elsewhere.call('auth_authorize', { token: owner.token });
    await owner.client.call('auth_revoke_sessions', { session_ids: [owner.authorization.session_id!] });
    assert.equal((await elsewhere.closed).code, CloseCode.SESSION_REVOKED);
    assert.deepEqual(handledLines(gw2, owner.sessionId).map((l) => l.via), ['postgres']);
    assertRpcError(await (await gw2.connect()).request('auth_authorize', { token: owner.token }), ErrorCode.FORBIDDEN);
  });
});
