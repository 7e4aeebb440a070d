/**
 * The end of an account is final whatever races it (issue 23): sign-ins
 * arriving on two instances while both run the purge leave no session of
 * the purged user, and no socket of theirs keeps serving.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RpcResult } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { person } from '../helpers/accounts.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

const SIGN_INS = 60;

describe('account purge racing sign-ins (two instances)', () => {
  let gw1: TestGateway;
  let gw2: TestGateway;
  before(async () => {
    const env = { ACCOUNT_DELETE_GRACE_DAYS: '0', REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:` };
    gw1 = await startGateway(env);
    gw2 = await startGateway(env, { databaseUrl: gw1.databaseUrl });
  });
  after(async () => {
    await gw2?.close();
    await gw1?.close();
  });

  it(`${SIGN_INS} sign-ins racing the purge on both instances: after it, no session of the user exists and none of their sockets serves`, async () => {
    const doomed = await person(gw1, { tag: 'purged' });
    await doomed.client.call('settings_delete_account', {});
    const sockets = await Promise.all(Array.from({ length: SIGN_INS }, (_, i) => (i % 2 ? gw2 : gw1).connect()));
    const signIns = sockets.map((s) => s.request('auth_sign_in', { email: doomed.email, password: doomed.password }));
    const [purged1, purged2] = await Promise.all([gw1.app.services.accountDeletion.purgeDue(), gw2.app.services.accountDeletion.purgeDue()]);
    assert.deepEqual([...purged1, ...purged2], [doomed.userId], 'purged once, by one instance');
    const answers: RpcResult[] = await Promise.all(signIns);

    const { rows } = await gw1.app.db.query(`SELECT id FROM sessions WHERE user_id = $1`, [doomed.userId]);
    assert.deepEqual(rows, [], 'no session outlives the purge');
    // A socket whose sign-in got in before the purge was closed as revoked; one after it was refused.
    await Promise.all(
      answers.map(async (answer, i) => {
        if (!answer.authorization) return;
        const { code } = await sockets[i]!.closed;
        assert.equal(code, CloseCode.SESSION_REVOKED);
      }),
    );
    const late = await (await gw2.connect()).request('auth_sign_in', { email: doomed.email, password: doomed.password });
    assert.ok(late.error, 'the purged account cannot sign in');
  });
});
