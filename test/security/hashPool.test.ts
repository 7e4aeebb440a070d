/**
 * The password hash pool is shared fairly: sign-in attempts are limited per
 * address, the queue of hashes is bounded per address (429) and in total
 * (503), addresses take turns, and unknown emails cost what real accounts'
 * hashes cost (the dummy's cost follows the stored hashes; a sign-in rehashes
 * a hash of another cost than BCRYPT_COST).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import bcrypt from 'bcrypt';
import type { OsmiumClient, RpcResult } from '../../src/client/client.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { metric } from '../helpers/metrics.js';
import { codes, count, ok } from '../helpers/results.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const PASSWORD = 'pool quokka password';

const from = (gw: TestGateway, ip: string): Promise<OsmiumClient> => gw.connect({ 'x-forwarded-for': ip });

describe('the hash pool', () => {
  it('limits sign-in attempts per address, known email or not: 40 at once, at most 10 evaluated; other addresses unaffected', async () => {
    const gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', LIMIT_SIGNIN_IP: '10/900' });
    try {
      const owner = uniqueEmail('owner');
      await person(gw, { client: await from(gw, '198.51.100.1'), email: owner, password: PASSWORD, name: 'Owner' });
      const flooder = await from(gw, '203.0.113.66');
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => flooder.request('auth_sign_in', { email: uniqueEmail(`nobody${i}`), password: 'whatever it is' })));
      const more = await Promise.all(Array.from({ length: 10 }, () => flooder.request('auth_sign_in', { email: owner, password: PASSWORD })));
      const all = [...results, ...more];
      const evaluated = count(all, ErrorCode.UNAUTHENTICATED) + all.filter((r) => r.authorization).length;
      assert.ok(evaluated <= 10, `evaluated: ${evaluated} (${codes(all).join(',')})`);
      assert.equal(count(all, ErrorCode.RATE_LIMITED), 40 - evaluated);
      assert.match(all.find((r) => r.error?.error_code === ErrorCode.RATE_LIMITED)!.error!.error_message!, /too many sign-ins from this address; retry after \d+ seconds/);
      assert.ok(ok(await (await from(gw, '198.51.100.1')).request('auth_sign_in', { email: owner, password: PASSWORD })).authorization, 'the owner elsewhere signs in');
    } finally {
      await gw.close();
    }
  });

  it('bounds the hashes waiting per address (429) and in total (503), never queueing without end', async () => {
    // One slow hash at a time (cost 12), so the burst finds the slot busy.
    const perIp = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', BCRYPT_COST: '12', BCRYPT_CONCURRENCY: '1', BCRYPT_MAX_QUEUED_PER_IP: '2' });
    try {
      const flooder = await from(perIp, '203.0.113.70');
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => flooder.request('auth_sign_in', { email: uniqueEmail(`q${i}`), password: 'whatever it is' })));
      assert.equal(count(results, ErrorCode.UNAUTHENTICATED) + count(results, ErrorCode.RATE_LIMITED), 30, codes(results).join(','));
      const refused = results.filter((r) => r.error?.error_code === ErrorCode.RATE_LIMITED);
      assert.ok(refused.length >= 20, `refused at once: ${refused.length}`);
      assert.match(refused[0]!.error!.error_message!, /too many password checks waiting from this address; retry after 1 seconds/);
    } finally {
      await perIp.close();
    }

    const total = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', BCRYPT_COST: '12', BCRYPT_CONCURRENCY: '1', BCRYPT_MAX_QUEUED: '3' });
    try {
      const sockets = await Promise.all(Array.from({ length: 20 }, (_, i) => from(total, `198.51.100.${i + 1}`)));
      const results = await Promise.all(sockets.map((c, i) => c.request('auth_sign_in', { email: uniqueEmail(`t${i}`), password: 'whatever it is' })));
      assert.equal(count(results, ErrorCode.UNAUTHENTICATED) + count(results, ErrorCode.UNAVAILABLE), 20, codes(results).join(','));
      assert.ok(count(results, ErrorCode.UNAVAILABLE) >= 10, `refused: ${count(results, ErrorCode.UNAVAILABLE)}`);
      assert.match(results.find((r) => r.error?.error_code === ErrorCode.UNAVAILABLE)!.error!.error_message!, /too many password checks waiting; retry later/);
    } finally {
      await total.close();
    }
  });

  it('lets addresses take turns: a sign-in from elsewhere waits for one hash, not for a flood queued before it', async () => {
    const gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', BCRYPT_COST: '10', BCRYPT_CONCURRENCY: '1', BCRYPT_MAX_QUEUED_PER_IP: '1000' });
    try {
      const email = uniqueEmail('patient');
      const legit = await from(gw, '198.51.100.7');
      await person(gw, { client: legit, email, password: PASSWORD, name: 'Patient' });
      const flooder = await from(gw, '203.0.113.99');
      const FLOOD = 30;
      let floodAnswered = 0;
      const flood = Array.from({ length: FLOOD }, (_, i) =>
        flooder.request('auth_sign_in', { email: uniqueEmail(`flood${i}`), password: 'whatever it is' }).then((r) => {
          floodAnswered++;
          return r;
        }),
      );
      // The event: the flood is queued behind the one hash slot.
      await eventually(async () => (await metric(gw.app.metricsPort!, 'osmium_password_hashes_queued')) >= FLOOD - 5, {
        what: 'the flood to queue behind the one hash slot',
        intervalMs: 1,
      });
      const before = floodAnswered;
      const signedIn = await legit.request('auth_sign_in', { email, password: PASSWORD });
      const overtaken = floodAnswered - before;
      assert.ok(signedIn.authorization);
      assert.ok(overtaken <= 3, `${overtaken} of the flood's hashes ran before the other address's one`);
      assert.equal(count(await Promise.all(flood), ErrorCode.UNAUTHENTICATED), FLOOD);
    } finally {
      await gw.close();
    }
  });

  it('compares unknown emails against the cost most stored hashes have, and rehashes at BCRYPT_COST on sign-in', async () => {
    const old = await startGateway({ BCRYPT_COST: '5' });
    const emails = [uniqueEmail('old1'), uniqueEmail('old2'), uniqueEmail('old3')];
    try {
      const c = await old.connect();
      for (const email of emails) await person(old, { client: c, email, password: PASSWORD, name: 'Old' });
    } finally {
      await old.close();
    }
    const gw = await startGateway({ BCRYPT_COST: '6' }, { databaseUrl: old.databaseUrl });
    try {
      const ready = gw.logs.find((l) => l.msg === 'password hashing ready');
      assert.equal(ready?.dummyHashCost, 5, 'the dummy costs what the stored hashes cost, not BCRYPT_COST');
      const storedCost = async (email: string) => bcrypt.getRounds((await gw.app.repos.users.byEmail(email))!.passwordHash!);
      assert.equal(await storedCost(emails[0]!), 5);
      const client = await gw.connect();
      assert.ok((await client.request('auth_sign_in', { email: emails[0]!, password: 'not it at all' })).error, 'a wrong password changes nothing');
      assert.equal(await storedCost(emails[0]!), 5);
      assert.ok(ok(await client.request('auth_sign_in', { email: emails[0]!, password: PASSWORD })).authorization);
      assert.equal(await storedCost(emails[0]!), 6, 'rehashed at BCRYPT_COST');
      assert.ok(ok(await client.request('auth_sign_in', { email: emails[0]!, password: PASSWORD })).authorization, 'the new hash works');
      assert.equal(await storedCost(emails[1]!), 5, 'others keep theirs until they sign in');
    } finally {
      await gw.close();
    }
  });
});
