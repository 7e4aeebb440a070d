/**
 * Account events through real servers: the outbox written with each change,
 * delivered to a receiver that verifies every signature with the
 * `standardwebhooks` package; a receiver down through 500 changes, then
 * back; the dispatching gateway killed with -9 mid-batch; one dispatcher at a
 * time; a 2 s receiver against sign-in latency.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import pg from 'pg';
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { guest, person, signIn, STRONG_PASSWORD } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { TestSmtp } from '../helpers/smtp.js';
import { createDatabase, REDIS_ENV, spawnGateway, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { firstArrivalsByUser, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver.js';

const NEW_PASSWORD = 'an entirely different passphrase 77';
const FAST_RETRIES = { WEBHOOK_RETRY_FIRST_SECONDS: '0.05', WEBHOOK_RETRY_MAX_SECONDS: '0.5' };

const webhookEnv = (receiver: WebhookReceiver) => ({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: receiver.secret, ...FAST_RETRIES });

interface Row {
  id: string;
  type: string;
  user_id: string;
  data: Record<string, unknown>;
}

/** Every numbered event in the outbox, by id (after waiting until none is left unnumbered). */
async function outbox(db: pg.Pool | pg.Client): Promise<Row[]> {
  await eventually(async () => (await db.query(`SELECT count(*)::int AS n FROM events WHERE id IS NULL`)).rows[0].n === 0, {
    what: 'every event to be numbered',
  });
  return (await db.query<Row>(`SELECT id::text, type, user_id::text, data FROM events ORDER BY events.id`)).rows;
}

/** Waits until the receiver has every event of the outbox; checks per-user order against it. */
async function assertAllArrivedInOrder(receiver: WebhookReceiver, rows: Row[], timeoutMs = 60_000): Promise<void> {
  await eventually(() => {
    const got = new Set(receiver.deliveries.map((d) => d.id));
    return rows.every((r) => got.has(r.id));
  }, { what: `all ${rows.length} events at the receiver`, timeoutMs });
  const expected = new Map<string, string[]>();
  for (const r of rows) expected.set(r.user_id, [...(expected.get(r.user_id) ?? []), r.id]);
  const arrived = firstArrivalsByUser(receiver.deliveries);
  for (const [user, ids] of expected) assert.deepEqual(arrived.get(user), ids, `events of user ${user} in order`);
  // Duplicates (at least once) only ever with the same id and the same body.
  const bodies = new Map<string, string>();
  for (const d of receiver.deliveries) {
    const before = bodies.get(d.id);
    if (before !== undefined) assert.equal(d.raw, before, `a duplicate of event ${d.id} is the same event`);
    bodies.set(d.id, d.raw);
  }
  assert.equal(receiver.refused, 0, 'every signature verified');
}

describe('account events by signed webhooks', () => {
  let receiver: WebhookReceiver;
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    receiver = await startWebhookReceiver();
    smtp = await TestSmtp.start();
    gw = await startGateway({ ...webhookEnv(receiver), SMTP_URL: smtp.url, API_PORT: '0', API_KEYS: 'events-test-key-0123456789' });
  });
  after(async () => {
    await gw.close();
    await smtp.close();
    await receiver.close();
  });

  it('delivers every change of an account, signed, in order, and a failed change leaves no event', async () => {
    const alice = await person(gw, { tag: 'events', verifiedWith: smtp, name: 'Alice Events' });
    const laptop = await signIn(gw, alice);
    await alice.client.call('auth_revoke_sessions', { session_ids: [Long.fromString(laptop.sessionId, true)] });
    const taken = await (await gw.connect()).request('auth_sign_up', { email: alice.email, password: STRONG_PASSWORD, name: 'Copycat' });
    assert.ok(taken.error, 'the second sign-up with the address fails');
    const wrong = await alice.client.request('settings_change_password', { current_password: 'not the password at all', new_password: NEW_PASSWORD });
    assert.ok(wrong.error, 'a wrong current password fails');
    await alice.client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD, revoke_sessions: true });
    await alice.client.call('settings_delete_account', {});
    await alice.client.call('settings_delete_account', { cancel: true });

    const rows = (await outbox(gw.app.db)).filter((r) => r.user_id === alice.userId);
    await assertAllArrivedInOrder(receiver, rows);
    const mine = receiver.deliveries.filter((d) => d.data.user_id === alice.userId);
    assert.deepEqual(
      mine.map((d) => [d.type, d.data.reason ?? null]),
      [
        ['user.created', null], ['session.created', null], ['user.updated', null], ['session.created', null],
        ['session.revoked', 'revoke'], ['password.changed', 'change'], ['user.deletion_requested', null], ['user.deletion_cancelled', null],
      ],
    );
    const [created, session, updated] = mine;
    assert.deepEqual(created!.data, {
      event_id: created!.id, user_id: alice.userId, name: 'Alice Events', email: alice.email, email_verified: false, guest: false, bot: false,
    });
    assert.equal(session!.data.session_id, alice.sessionId);
    assert.deepEqual(updated!.data.changed, ['email_verified']);
    assert.match(created!.timestamp, /^\d{4}-\d\d-\d\dT/);
    assert.match(created!.id, /^[1-9]\d*$/, 'ids are decimal strings');
    assert.match(created!.agent, /^osmium-auth-gateway \(worker \d+\)$/);
  });

  it("the receiver's standardwebhooks check refuses a tampered body and an old timestamp", async () => {
    const account = await guest(gw, 'Signed');
    const delivery = await eventually(() => receiver.deliveries.find((d) => d.data.user_id === account.userId), { what: 'the sign-up event' });
    assert.ok(receiver.verify(delivery.raw, delivery.headers), 'the delivery as sent verifies');
    const tampered = delivery.raw.replace('Signed', 'Forged');
    assert.throws(() => receiver.verify(tampered, delivery.headers), /signature/i);
    const old = new Date(Date.now() - 10 * 60_000);
    const oldHeaders = {
      ...delivery.headers,
      'webhook-timestamp': String(Math.floor(old.getTime() / 1000)),
      'webhook-signature': new Webhook(receiver.secret).sign(delivery.id, old, delivery.raw),
    };
    assert.throws(() => receiver.verify(delivery.raw, oldHeaders), /timestamp/i);
    // Over HTTP too: the receiver answers 400 and counts it refused.
    const res = await request(receiver.url, { method: 'POST', headers: delivery.headers, body: tampered });
    await res.body.dump();
    assert.equal(res.statusCode, 400);
    assert.equal(receiver.refused, 1);
    receiver.refused = 0;
  });

  it('serves the same events as a feed after an id, and 401 without the key', async () => {
    const api = `http://127.0.0.1:${gw.app.apiPort}/v1/events`;
    const headers = { authorization: 'Bearer events-test-key-0123456789' };
    const rows = await outbox(gw.app.db);
    const page = async (after: string, limit: number) => {
      const res = await request(`${api}?after=${after}&limit=${limit}`, { headers });
      assert.equal(res.statusCode, 200);
      return (await res.body.json()) as { events: Array<{ id: string; type: string }>; next_after: string };
    };
    const seen: string[] = [];
    for (let after = '0'; ; ) {
      const p = await page(after, 3);
      if (!p.events.length) break;
      seen.push(...p.events.map((e) => e.id));
      after = p.next_after;
    }
    assert.deepEqual(seen.slice(0, rows.length), rows.map((r) => r.id));
    const unauthorized = await request(api);
    await unauthorized.body.dump();
    assert.equal(unauthorized.statusCode, 401);
    const bad = await request(`${api}?limit=0`, { headers });
    await bad.body.dump();
    assert.equal(bad.statusCode, 400);
  });
});

describe('a receiver down through 500 changes', () => {
  it('gets every event once it is back, in order per user', async () => {
    const receiver = await startWebhookReceiver();
    receiver.down = true;
    const gw = await startGateway({ ...webhookEnv(receiver), BCRYPT_MAX_QUEUED_PER_IP: '64' });
    try {
      const people = Array.from({ length: 100 }, (_, i) => i);
      const work = async () => {
        for (let i = people.shift(); i !== undefined; i = people.shift()) {
          const email = uniqueEmail('down');
          const client = await gw.connect();
          await client.call('auth_sign_up', { email, password: STRONG_PASSWORD, name: `Down ${i}` });
          const other = await signIn(gw, { email, password: STRONG_PASSWORD });
          await client.call('auth_revoke_sessions', { session_ids: [Long.fromString(other.sessionId, true)] });
          await client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD });
          await client.close();
        }
      };
      await Promise.all(Array.from({ length: 8 }, work));
      const rows = await outbox(gw.app.db);
      assert.equal(rows.length, 500);
      await eventually(async () => (await gw.app.db.query(`SELECT count(*)::int AS n FROM events WHERE attempts > 1`)).rows[0].n >= 100, {
        what: 'deliveries failing and being retried while the receiver is down',
      });
      assert.equal(receiver.deliveries.length, 0);
      receiver.down = false;
      await assertAllArrivedInOrder(receiver, rows);
      const types = [...firstArrivalsByUser(receiver.deliveries).values()].map((ids) =>
        ids.map((id) => receiver.deliveries.find((d) => d.id === id)!.type).join(' '),
      );
      assert.deepEqual(new Set(types), new Set(['user.created session.created session.created session.revoked password.changed']));
      await eventually(async () => (await gw.app.db.query(`SELECT count(*)::int AS n FROM events WHERE state <> 'delivered'`)).rows[0].n === 0, {
        what: 'every event marked delivered',
      });
    } finally {
      await gw.close();
      await receiver.close();
    }
  });
});

describe('the dispatching gateway killed with -9 mid-batch', () => {
  it('the other instance takes over and nothing is lost', async () => {
    const receiver = await startWebhookReceiver();
    receiver.delayMs = 20;
    const databaseUrl = await createDatabase();
    const env = {
      DATABASE_URL: databaseUrl, ...REDIS_ENV, REDIS_PREFIX: `k${randomBytes(3).toString('hex')}:`, ...webhookEnv(receiver), WEBHOOK_CONCURRENCY: '2',
    };
    const one = await spawnGateway(env);
    const two = await spawnGateway(env);
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const dispatching = (g: typeof one) => g.output.some((l) => l.includes('dispatching account events'));
      const dispatcher = await eventually(() => (dispatching(one) ? one : dispatching(two) ? two : null), { what: 'one instance dispatching' });
      const survivor = dispatcher === one ? two : one;
      assert.equal(dispatching(survivor), false, 'only one instance dispatches');
      const { OsmiumClient } = await import('../../src/client/client.js');
      const signUps = Array.from({ length: 150 }, (_, i) => i);
      await Promise.all(Array.from({ length: 6 }, async () => {
        for (let i = signUps.shift(); i !== undefined; i = signUps.shift()) {
          const client = await OsmiumClient.connect(survivor.url);
          await client.call('auth_sign_up', { name: `Kill ${i}` });
          await client.close();
        }
      }));
      await eventually(() => receiver.deliveries.length >= 40, { what: 'the dispatcher to be mid-batch' });
      const beforeKill = new Set(receiver.deliveries.map((d) => d.agent));
      assert.equal(beforeKill.size, 1, 'one instance delivered');
      dispatcher.process.kill('SIGKILL');
      assert.ok(new Set(receiver.deliveries.map((d) => d.id)).size < 300, 'killed before the batch was done');
      const rows = await outbox(db);
      assert.equal(rows.length, 300);
      await eventually(() => dispatching(survivor), { what: 'the survivor to take over the dispatcher lock' });
      await assertAllArrivedInOrder(receiver, rows);
      assert.equal(new Set(receiver.deliveries.map((d) => d.agent)).size, 2, 'the survivor delivered the rest');
      assert.equal(receiver.overlappingAgents, 1, 'never two instances delivering at once');
    } finally {
      await db.end();
      await one.stop('SIGKILL');
      await two.stop('SIGKILL');
      await receiver.close();
    }
  });
});

describe('two instances and a 2 s receiver', () => {
  it('exactly one dispatches, and sign-in latency stays within noise of a gateway without webhooks', async () => {
    const receiver = await startWebhookReceiver();
    receiver.delayMs = 2_000;
    const databaseUrl = await createDatabase();
    const one = await startGateway(webhookEnv(receiver), { databaseUrl });
    const two = await startGateway(webhookEnv(receiver), { databaseUrl });
    const plain = await startGateway();
    try {
      await eventually(() => [one, two].filter((g) => g.app.events.dispatching).length === 1, { what: 'one of the two dispatching' });
      const slowUser = await person(one, { tag: 'slow' });
      const plainUser = await person(plain, { tag: 'plain' });
      const timed = async (gw: TestGateway, who: { email: string; password: string }) => {
        const client = await gw.connect();
        const started = performance.now();
        await client.call('auth_sign_in', { email: who.email, password: who.password });
        const ms = performance.now() - started;
        await client.close();
        return ms;
      };
      // Alternating, so whatever else loads the machine weighs on both series alike.
      const withHooks: number[] = [];
      const without: number[] = [];
      for (let i = 0; i < 40; i++) {
        withHooks.push(await timed(i % 2 ? one : two, slowUser));
        without.push(await timed(plain, plainUser));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const ratio = median(withHooks) / median(without);
      console.log(`sign-in median with a 2 s receiver ${median(withHooks).toFixed(1)} ms, without webhooks ${median(without).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
      assert.ok(ratio < 1.5, `sign-in with a slow receiver ${ratio.toFixed(2)}x the latency without webhooks`);
      assert.ok(receiver.inFlightAgents.size >= 1 && receiver.deliveries.length + [...receiver.inFlightAgents.values()].reduce((a, b) => a + b, 0) > 0, 'the receiver was being called');
      assert.equal([one, two].filter((g) => g.app.events.dispatching).length, 1, 'still exactly one dispatching');
      assert.equal(receiver.inFlightAgents.size, 1, 'only one instance ever called the receiver');
    } finally {
      await plain.close();
      await one.close();
      await two.close();
      await receiver.close();
    }
  });
});
