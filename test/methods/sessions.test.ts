/**
 * Sessions across devices and instances: listing with device info and geo,
 * ownership, sign-out, revocation pushed to sockets on another instance,
 * idle expiry, and survival of Redis data loss.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import { OsmiumClient } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { guest, person } from '../helpers/accounts.js';
import { runAdmin } from '../helpers/admin.js';
import { clockPast, eventually } from '../helpers/eventually.js';
import { createDatabase, REDIS_ENV, spawnGateway, startGateway, uniqueEmail, type SpawnedGateway, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const PASSWORD = 'sessions password';

describe('sessions on one instance', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ GEO_COUNTRY_HEADER: 'cf-ipcountry', GEO_REGION_HEADER: 'x-geo-region' });
    const added = await runAdmin(['apps', 'add', '42', 'Osmium Desktop'], { DATABASE_URL: gw.databaseUrl });
    assert.equal(added.code, 0, added.stderr);
  });
  after(() => gw.close());

  it('lists every device with its device info, app name and geo, newest activity first', async () => {
    const email = uniqueEmail('devices');
    const laptop = await gw.connect({ 'cf-ipcountry': 'DE', 'x-geo-region': 'BE' });
    await laptop.call('core_initialize', { client_id: 42, device_type: 'desktop', device_version: 'Linux 6.8', app_version: '2.1.0' });
    await person(gw, { client: laptop, email, password: PASSWORD, name: 'Three Devices' });
    const phone = await gw.connect({ 'cf-ipcountry': 'FR' });
    await phone.call('core_initialize', { client_id: 7, device_type: 'mobile', device_version: 'Android 15', app_version: '1.0.3' });
    const phoneAuth = await phone.call('auth_sign_in', { email, password: PASSWORD });
    const browser = await gw.connect();
    const browserAuth = await browser.call('auth_sign_in', { email, password: PASSWORD });
    // Each step below lands in a later millisecond, so the activity order is certain.
    await clockPast(Date.now());
    await laptop.call('core_initialize', { client_id: 42, device_type: 'desktop', device_version: 'Linux 6.9', app_version: '2.1.1' });
    await clockPast(Date.now());

    const r = await phone.call('auth_get_sessions', {});
    const list = r.sessions!.sessions!;
    assert.equal(list.length, 3);
    assert.equal(r.sessions!.current!.toString(), phoneAuth.authorization!.session_id!.toString());
    const [first, second, third] = list;
    // The laptop was active last (Initialize after sign-up), then the phone's GetSessions moved the phone.
    assert.deepEqual(
      { client: first!.client_id, type: first!.device_type, version: first!.device_version, app: first!.app_name, appVersion: first!.app_version, country: first!.country, region: first!.region },
      { client: 7, type: 'mobile', version: 'Android 15', app: '', appVersion: '1.0.3', country: 'FR', region: null },
    );
    assert.deepEqual(
      { client: second!.client_id, type: second!.device_type, version: second!.device_version, app: second!.app_name, appVersion: second!.app_version, country: second!.country, region: second!.region },
      { client: 42, type: 'desktop', version: 'Linux 6.9', app: 'Osmium Desktop', appVersion: '2.1.1', country: 'DE', region: 'BE' },
      'an Initialize after authorization updates the session',
    );
    assert.equal(third!.id!.toString(), browserAuth.authorization!.session_id!.toString());
    assert.equal(third!.device_type, '');
    assert.equal(third!.country, null);
    const times = list.map((s) => Number((s.last_active as Long).toString()));
    assert.ok(times[0]! >= times[1]! && times[1]! >= times[2]!, `newest activity first: ${times}`);
    assert.ok(Math.abs(times[0]! - Date.now()) < 60_000, 'last_active is Unix milliseconds');
  });

  it('ignores geo headers when the setting is off', async () => {
    const plain = await startGateway();
    try {
      const client = await plain.connect({ 'cf-ipcountry': 'US', 'x-geo-region': 'CA' });
      await guest(plain, 'No geo', { client });
      const r = await client.call('auth_get_sessions', {});
      assert.equal(r.sessions!.sessions![0]!.country, null, 'absent: decodes as null');
      assert.equal(r.sessions!.sessions![0]!.region, null);
    } finally {
      await plain.close();
    }
  });

  it("ignores ids that are not the caller's, without touching their owners", async () => {
    const alice = await gw.connect();
    const aliceAuth = await guest(gw, 'Alice', { client: alice });
    const { client: mallory } = await guest(gw, 'Mallory');
    const r = await mallory.request('auth_revoke_sessions', { session_ids: [aliceAuth.authorization!.session_id!, Long.fromString('123456789', true)] });
    assert.equal(r.error, null, 'answered () like any revoke');
    assert.ok(alice.isOpen);
    const again = await gw.connect();
    const resumed = await again.request('auth_authorize', { token: aliceAuth.authorization!.token! });
    assert.ok(resumed.authorization, "Alice's session still valid");
  });

  it('validates the id list: empty 400, over 100 ids 400, a zero id 400', async () => {
    const { client } = await guest(gw, 'Validator');
    const empty = await client.request('auth_revoke_sessions', { session_ids: [] });
    assertRpcError(empty, ErrorCode.BAD_REQUEST);
    assert.match(empty.error!.error_message!, /session_ids/);
    const many = Array.from({ length: 101 }, (_, i) => Long.fromNumber(1000 + i, true));
    const tooMany = await client.request('auth_revoke_sessions', { session_ids: many });
    assertRpcError(tooMany, ErrorCode.BAD_REQUEST);
    const zero = await client.request('auth_revoke_sessions', { session_ids: [Long.UZERO] });
    assertRpcError(zero, ErrorCode.BAD_REQUEST);
  });

  it('signs out: revoking the current session pushes session_deleted, then closes with 4001', async () => {
    const client = await gw.connect();
    const auth = await guest(gw, 'Leaver', { client });
    const sessionId = auth.authorization!.session_id!;
    const result = await client.request('auth_revoke_sessions', { session_ids: [sessionId] });
    assert.equal(result.error, null, 'the sign-out is answered first');
    const update = await client.nextUpdate();
    assert.equal(update.session_deleted?.session_id?.toString(), sessionId.toString());
    const closed = await client.closed;
    assert.equal(closed.code, CloseCode.SESSION_REVOKED);
    const other = await gw.connect();
    const r = await other.request('auth_authorize', { token: auth.authorization!.token! });
    assertRpcError(r, ErrorCode.FORBIDDEN);
  });

  it('revokes another device of the same user, which is pushed and closed', async () => {
    const email = uniqueEmail('two');
    const { client: a } = await person(gw, { email, password: PASSWORD, name: 'Two' });
    const b = await gw.connect();
    const bAuth = await b.call('auth_sign_in', { email, password: PASSWORD });
    await a.call('auth_revoke_sessions', { session_ids: [bAuth.authorization!.session_id!] });
    const update = await b.nextUpdate();
    assert.equal(update.session_deleted?.session_id?.toString(), bAuth.authorization!.session_id!.toString());
    assert.equal((await b.closed).code, CloseCode.SESSION_REVOKED);
    assert.ok(a.isOpen);
    const list = await a.call('auth_get_sessions', {});
    assert.equal(list.sessions!.sessions!.length, 1);
  });
});

describe('idle expiry', () => {
  it('expired sessions are not listed and cannot authorize', async () => {
    // 0.00002 days = 1.7 s without activity.
    const gw = await startGateway({ SESSION_IDLE_DAYS: '0.00002' });
    try {
      const email = uniqueEmail('idle');
      const first = await gw.connect();
      const old = await person(gw, { client: first, email, password: PASSWORD, name: 'Idle' });
      await first.close();
      const second = await gw.connect();
      const fresh = await second.call('auth_sign_in', { email, password: PASSWORD });
      // Listing is activity of the new session only: the old one idles out while it is polled.
      const list = await eventually(
        async () => {
          const listed = (await second.call('auth_get_sessions', {})).sessions!.sessions!;
          return listed.length === 1 ? listed : undefined;
        },
        { what: 'the idle session to drop out of the list' },
      );
      assert.equal(list[0]!.id!.toString(), fresh.authorization!.session_id!.toString(), 'only the new session');
      const r = await (await gw.connect()).request('auth_authorize', { token: old.authorization!.token! });
      assertRpcError(r, ErrorCode.FORBIDDEN);
    } finally {
      await gw.close();
    }
  });
});

describe('sessions across two gateway processes', () => {
  let one: SpawnedGateway;
  let two: SpawnedGateway;
  const clients: OsmiumClient[] = [];
  const connect = async (gw: SpawnedGateway) => {
    const c = await OsmiumClient.connect(gw.url);
    clients.push(c);
    return c;
  };
  before(async () => {
    const env = { DATABASE_URL: await createDatabase(), ...REDIS_ENV, REDIS_PREFIX: `x${randomBytes(3).toString('hex')}:` };
    one = await spawnGateway(env);
    two = await spawnGateway(env);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([one.stop(), two.stop()]);
  });

  it('pushes a revocation to the socket on the other instance and refuses its token on both', async () => {
    const email = uniqueEmail('cross');
    const laptop = await connect(one);
    await person(one, { client: laptop, email, password: PASSWORD, name: 'Cross' });
    const phone = await connect(two);
    const phoneAuth = await phone.call('auth_sign_in', { email, password: PASSWORD });
    const listed = await laptop.call('auth_get_sessions', {});
    assert.equal(listed.sessions!.sessions!.length, 2, 'both instances see both sessions');

    await laptop.call('auth_revoke_sessions', { session_ids: [phoneAuth.authorization!.session_id!] });
    const update = await phone.nextUpdate(2_000);
    assert.equal(update.session_deleted?.session_id?.toString(), phoneAuth.authorization!.session_id!.toString());
    assert.equal((await phone.closed).code, CloseCode.SESSION_REVOKED);
    for (const gw of [one, two]) {
      const c = await connect(gw);
      const r = await c.request('auth_authorize', { token: phoneAuth.authorization!.token! });
      assertRpcError(r, ErrorCode.FORBIDDEN);
    }
  });

  it('pushes every one of 30 revocations made at once to its socket on the other instance', async () => {
    const email = uniqueEmail('burst');
    const revoker = await connect(one);
    await person(one, { client: revoker, email, password: PASSWORD, name: 'Burst' });
    // Signed in one after the other: one address may queue only a few password checks.
    const victims = [];
    for (let i = 0; i < 30; i++) {
      const socket = await connect(two);
      const auth = await socket.call('auth_sign_in', { email, password: PASSWORD });
      victims.push({ socket, sessionId: auth.authorization!.session_id! });
    }
    // One call per session, all in flight together (under the per-socket cap of 32): 30 separate messages through Redis.
    await Promise.all(victims.map((v) => revoker.call('auth_revoke_sessions', { session_ids: [v.sessionId] })));
    for (const { socket, sessionId } of victims) {
      assert.equal((await socket.nextUpdate()).session_deleted?.session_id?.toString(), sessionId.toString());
      assert.equal((await socket.closed).code, CloseCode.SESSION_REVOKED);
    }
    assert.ok(revoker.isOpen);
  });
});
