/**
 * Bot accounts, driven as the Osmium SDK drives them: a client that sends
 * Initialize, then Authorize with the bot token, heartbeats with `id` only,
 * and reconnects with the same token after every close. Create → Ready on two
 * instances (a sharded bot) → reset-token (old sockets closed 4001 on every
 * instance, the old token refused from the cache, logged once, the new one
 * works) → delete. Bots survive key rotation and never idle out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Client } from '../../src/client/botClient.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { person } from '../helpers/accounts.js';
import { runAdmin } from '../helpers/admin.js';
import { eventually } from '../helpers/eventually.js';
import { DATABASE_URL, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

async function admin(gw: TestGateway, ...args: string[]): Promise<Record<string, unknown>> {
  const run = await runAdmin(args, { DATABASE_URL: gw.databaseUrl, REDIS_URL: '', REDIS_CLUSTER_NODES: '' });
  assert.equal(run.code, 0, run.stderr);
  return run.lines[0]!;
}

/** Starts an SDK-like bot on `url` with a fast heartbeat and reconnect, and waits for its first Ready. */
async function bot(url: string, token: string): Promise<Client> {
  const client = new Client({ clientId: 77, serverUrl: url, reconnectDelayMs: 100, heartbeatMs: 100 });
  await client.login(token);
  return client;
}

describe('bot accounts', () => {
  let one: TestGateway;
  let two: TestGateway;
  let ownerId: string;
  const bots: Client[] = [];
  before(async () => {
    one = await startGateway({ REDIS_PREFIX: `bot${Date.now()}:` });
    two = await startGateway({ REDIS_PREFIX: one.app.config.REDIS_PREFIX }, { databaseUrl: one.databaseUrl });
    const owner = await one.connect();
    ownerId = (await person(one, { client: owner, email: uniqueEmail('owner'), password: 'owner of bots', name: 'Owner' })).authorization!.user!.id!.toString();
  });
  after(async () => {
    for (const b of bots) b.destroy();
    await two.close();
    await one.close();
  });

  it('create → Ready on two instances → reset-token closes every old socket and only the new token works → delete', async () => {
    const created = await admin(one, 'bot', 'create', '--owner', ownerId, '--name', 'Helper Bot');
    const botId = created.bot_id as string;
    const token = created.token as string;
    assert.match(botId, /^\d+$/);

    // A sharded bot: one token, sockets on both instances, each its own connection of the one session.
    const a = await bot(one.url, token);
    const b = await bot(two.url, token);
    bots.push(a, b);
    assert.deepEqual(a.user, { id: botId, name: 'Helper Bot', bot: true });
    const lister = await one.connect();
    await lister.call('auth_authorize', { token });
    const listed = (await lister.call('auth_get_sessions', {})).sessions!;
    assert.equal(listed.sessions!.length, 1, 'the bot has one session whatever its sockets');
    assert.equal(listed.sessions![0]!.id!.toString(), listed.current!.toString());
    // Every people-only method (password, email, two-factor, deletion) refuses a bot's session, whatever the payload.
    const peopleOnly = [
      lister.request('auth_reset_password', { email: uniqueEmail('x') }),
      lister.request('auth_sign_in', { email: uniqueEmail('x'), password: 'whatever password' }),
      lister.request('auth_sign_up', { name: 'Another' }),
      lister.request('auth_verify_email', { email: uniqueEmail('x'), code: '123456' }),
      lister.request('auth_resend_email_verification', {}),
      lister.request('settings_change_password', { current_password: '', new_password: 'a bot password' }),
      lister.request('settings_change_email', { new_email: uniqueEmail('x') }),
      lister.request('settings_setup_totp', {}),
      lister.request('settings_delete_account', {}),
    ];
    for (const refused of await Promise.all(peopleOnly)) {
      assertRpcError(refused, ErrorCode.FORBIDDEN, undefined, JSON.stringify(refused));
      assert.match(refused.error!.error_message!, /bots cannot/);
    }

    // Reset: the old token's sockets close with 4001 on both instances.
    const closes = [a, b].map((c) => new Promise<number>((resolve) => c.on('disconnected', ({ code }) => resolve(code))));
    const reset = await admin(one, 'bot', 'reset-token', botId);
    const newToken = reset.token as string;
    assert.notEqual(newToken, token);
    assert.deepEqual(await Promise.all(closes), [CloseCode.SESSION_REVOKED, CloseCode.SESSION_REVOKED]);

    // The old bots keep reconnecting with the old token, as the SDK does: refused every time, from the cache
    // (Postgres refuses the gateway's database meanwhile: any statement would answer 503, not 403).
    const refusals = { a: 0, b: 0 };
    a.on('refused', () => refusals.a++);
    b.on('refused', () => refusals.b++);
    const name = new URL(one.databaseUrl).pathname.slice(1);
    await asAdmin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    try {
      await asAdmin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
      await eventually(() => refusals.a >= 5 && refusals.b >= 5, { what: 'five refused reconnects on each instance', timeoutMs: 10_000 });
    } finally {
      await asAdmin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    }
    const refusalLines = [...one.logs, ...two.logs].filter((l) => String(l.msg).startsWith('refused a revoked or unknown session token'));
    assert.ok(refusalLines.length <= 2, `logged once per instance, not per attempt (${refusalLines.length} lines)`);
    a.destroy();
    b.destroy();

    const renewed = await bot(one.url, newToken);
    bots.push(renewed);
    assert.equal(renewed.user!.bot, true);

    const closed = new Promise<number>((resolve) => renewed.on('disconnected', ({ code }) => resolve(code)));
    await admin(one, 'bot', 'delete', botId);
    assert.equal(await closed, CloseCode.SESSION_REVOKED);
    renewed.destroy();
    const after = await two.connect();
    assertRpcError((await after.request('auth_authorize', { token: newToken })), ErrorCode.FORBIDDEN);
    const listedAfter = await runAdmin(['bot', 'list', '--owner', ownerId], { DATABASE_URL: one.databaseUrl });
    assert.deepEqual(listedAfter.lines.map((l) => l.name), [], 'no bot left for the owner');
  });

  it('survives a key rotation: retire keeps the key its token needs, until reset-token moves it', async () => {
    const { bot_id: botId, token } = (await admin(one, 'bot', 'create', '--owner', ownerId, '--name', 'Rotating Bot')) as { bot_id: string; token: string };
    await admin(one, 'keys', 'rotate');
    const retired = await admin(one, 'keys', 'retire');
    assert.deepEqual(
      (retired.kept_for_bots as Array<{ bot_ids: string[] }>).flatMap((k) => k.bot_ids).includes(botId),
      true,
      `the bot's key is kept: ${JSON.stringify(retired)}`,
    );
    const stillWorks = await bot(two.url, token);
    bots.push(stillWorks);
    stillWorks.destroy();
    const { token: moved } = (await admin(one, 'bot', 'reset-token', botId)) as { token: string };
    const retiredAgain = await admin(one, 'keys', 'retire');
    assert.equal((retiredAgain.retired as string[]).length, 1, 'the old key goes once no bot needs it');
    const onNewKey = await bot(one.url, moved);
    bots.push(onNewKey);
    assert.equal(onNewKey.user!.id, botId);
    onNewKey.destroy();
  });
});

describe('bot sessions never idle out', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ SESSION_IDLE_DAYS: '0.00003' }); // 2.6 s
  });
  after(() => gw.close());

  it('a bot token still works after a person\'s session from the same moment idled out', async () => {
    const email = uniqueEmail('idle-owner');
    const quiet = await gw.connect();
    const owner = (await person(gw, { client: quiet, email, password: 'owner of bots', name: 'Owner' })).authorization!;
    await quiet.close();
    const { token } = (await admin(gw, 'bot', 'create', '--owner', owner.user!.id!.toString(), '--name', 'Idle Bot')) as { token: string };
    // The person's first session, unused since, idles out (seen from their second device): that is the clock.
    const busy = await gw.connect();
    await busy.call('auth_sign_in', { email, password: 'owner of bots' });
    await eventually(
      async () => !(await busy.call('auth_get_sessions', {})).sessions!.sessions!.some((s) => s.id!.toString() === owner.session_id!.toString()),
      { what: 'the person\'s first session idled out', timeoutMs: 15_000, intervalMs: 200 },
    );
    const client = await bot(gw.url, token);
    assert.equal(client.user!.bot, true);
    client.destroy();
  });
});

async function asAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
