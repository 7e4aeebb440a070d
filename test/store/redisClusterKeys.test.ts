/**
 * On a Redis Cluster, every command the gateway sends touches the keys of one
 * slot only, so no path can ever meet CROSSSLOT. The test drives every path
 * that reaches Redis (sign-up, sign-in and its guess limits, authorize warm
 * and cold, device change, activity flush, listing, revocation and its
 * tombstones, invite lookups, mail caps, code checks) against the test
 * stack's cluster, records each command with its keys, and checks the slots.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import type { Command } from 'ioredis';
import { person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const CLUSTER_NODES = process.env.TEST_REDIS_CLUSTER_NODES;

describe('Redis Cluster: one slot per command', () => {
  let gw: TestGateway;
  const seen: Array<{ name: string; keys: string[] }> = [];
  before(async () => {
    assert.ok(CLUSTER_NODES, 'TEST_REDIS_CLUSTER_NODES is set by npm test (the test stack starts a Redis Cluster)');
    gw = await startGateway({
      REDIS_CLUSTER_NODES: CLUSTER_NODES,
      RATE_LIMITS: 'on',
      LIMIT_SIGNIN_FAIL_EMAIL_IP: '50/900',
      LIMIT_SIGNIN_IP: '100/900',
      ACTIVITY_PERSIST_GRANULARITY: '1',
    });
    const commands = gw.app.redis!.commands;
    assert.equal(gw.app.redis!.kind, 'cluster');
    const send = commands.sendCommand.bind(commands);
    commands.sendCommand = ((command: Command, ...rest: unknown[]) => {
      seen.push({ name: command.name.toLowerCase(), keys: command.getKeys().map(String) });
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof commands.sendCommand;
  });
  after(() => gw?.close());

  it('drives every path that reaches Redis without a command spanning two slots', async () => {
    const email = uniqueEmail('slots');
    const a = await gw.connect();
    await a.call('core_initialize', { client_id: 1, device_type: 'desktop', device_version: '1', app_version: '1' });
    const signedUp = (await person(gw, { client: a, email, password: 'one slot per command', name: 'Slots' })).authorization!;
    const b = await gw.connect();
    assertRpcError((await b.request('auth_sign_in', { email, password: 'wrong password here' })), 401);
    const second = (await b.call('auth_sign_in', { email, password: 'one slot per command' })).authorization!;
    const c = await gw.connect();
    await c.call('core_initialize', { client_id: 2, device_type: 'mobile', device_version: '2', app_version: '2' });
    await c.call('auth_authorize', { token: signedUp.token! }); // warm, device changed
    // Activity reaches Redis in the background flush: wait for it to have happened.
    await eventually(() => seen.some((s) => s.name === 'evalsha' && s.keys.some((k) => k.includes(':la:'))), { what: 'an activity flush' });
    await a.call('auth_get_sessions', {});
    await a.call('auth_revoke_sessions', { session_ids: [second.session_id!] });
    const d = await gw.connect();
    assertRpcError((await d.request('auth_authorize', { token: second.token! })), 403); // tombstone
    assertRpcError((await d.request('auth_lookup_invite', { code: 'AAAAAAAAAA' })), 404);
    await d.call('auth_reset_password', { email });
    assertRpcError((await d.request('auth_verify_email', { email, code: '000000' })), 400);

    const names = new Set(seen.map((s) => s.name));
    for (const expected of ['evalsha', 'get', 'spublish']) assert.ok(names.has(expected), `the flow sent ${expected} (sent: ${[...names].join(', ')})`);
    const authorizeRead = seen.find((s) => s.name === 'evalsha' && s.keys.some((k) => k.includes(':s:{')) && s.keys.some((k) => k.includes(':la:{')));
    assert.ok(authorizeRead, "the warm Authorize's one script, on the session's entry and its activity together");
    const spanning = seen.filter((s) => new Set(s.keys.map((k) => calculateSlot(k))).size > 1);
    assert.deepEqual(spanning, [], 'commands whose keys span slots');
    const prefix = gw.app.config.REDIS_PREFIX;
    assert.ok(seen.every((s) => s.keys.every((k) => k.startsWith(prefix))), 'every key is under REDIS_PREFIX');
    console.log(`redis cluster command paths: ${[...names].sort().join(', ')} (${seen.length} commands)`);
  });
});
