/**
 * The event dispatcher seen from outside: its backlog on /metrics while the
 * receiver is down, then draining; fairness (one user with 1 500 events
 * queued does not hold back another user's); the prune of delivered events
 * after EVENT_RETENTION_DAYS, with the gateway's clock moved instead of
 * waiting days.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { request } from 'undici';
import { EVENTS_PER_USER_PER_BATCH } from '../../src/services/webhooks.js';
import { guest, person, signIn, STRONG_PASSWORD } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { metric } from '../helpers/metrics.js';
import { startGateway } from '../helpers/stack.js';
import { firstArrivalsByUser, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver.js';

const DAY_MS = 86_400_000;
const API_KEY = 'dispatch-test-key-0123456789';
/** Retries every 10 to 20 ms while the receiver is down: every user's head is due again by the next round. */
const webhookEnv = (receiver: WebhookReceiver) => ({
  WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: receiver.secret, WEBHOOK_RETRY_FIRST_SECONDS: '0.01', WEBHOOK_RETRY_MAX_SECONDS: '0.02',
});

const count = async (db: pg.Pool, where: string, params: unknown[] = []) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE ${where}`, params)).rows[0]!.n;

describe('the backlog on /metrics', () => {
  it('grows while the receiver is down, with the age of the oldest event, then drains once it is back', async () => {
    const receiver = await startWebhookReceiver();
    receiver.down = true;
    const gw = await startGateway(webhookEnv(receiver));
    const port = gw.app.metricsPort!;
    const m = (key: string) => metric(port, key);
    try {
      assert.equal(await m('osmium_events_pending'), 0);
      for (let i = 0; i < 5; i++) await guest(gw, `Backlog ${i}`);
      await eventually(async () => (await m('osmium_events_pending')) === 10, { what: 'the 10 sign-up events pending on /metrics' });
      const age = await eventually(async () => {
        const seconds = await m('osmium_events_oldest_pending_seconds');
        return seconds >= 1 ? seconds : null;
      }, { what: 'the oldest pending event a second old' });
      for (let i = 5; i < 10; i++) await guest(gw, `Backlog ${i}`);
      await eventually(async () => (await m('osmium_events_pending')) === 20, { what: 'the backlog grown to 20' });
      assert.ok((await m('osmium_events_oldest_pending_seconds')) >= age, 'the oldest event keeps ageing');
      assert.ok((await m('osmium_webhook_attempts_failed_total')) > 0, 'failed attempts counted');
      assert.equal(await m('osmium_events_delivered_total'), 0);

      receiver.down = false;
      await eventually(async () => (await m('osmium_events_pending')) === 0, { what: 'the backlog drained on /metrics' });
      assert.equal(await m('osmium_events_oldest_pending_seconds'), 0);
      assert.equal(new Set(receiver.deliveries.map((d) => d.id)).size, 20);
      assert.equal(await m('osmium_events_delivered_total'), 20);
      assert.equal(await m('osmium_events_failed_total'), 0, 'nothing given up');
      assert.equal(await m('osmium_events_delivery_seconds_count'), 20);
      // Every one waited for the receiver: the first ten at least the second measured above.
      assert.ok((await m('osmium_events_delivery_seconds_sum')) >= 10 * age);
      assert.equal(await m('osmium_events_delivery_seconds_bucket{le="0.01"}'), 0);
      const calls = await m('osmium_webhook_call_duration_seconds_count');
      assert.equal(calls, 20 + (await m('osmium_webhook_attempts_failed_total')), 'every call timed, accepted or not');
    } finally {
      await gw.close();
      await receiver.close();
    }
  });
});

describe('fairness between users', () => {
  it("one user's 1 500 queued events do not hold back another user's, and keep their own order", async () => {
    const receiver = await startWebhookReceiver();
    receiver.down = true;
    const gw = await startGateway({ ...webhookEnv(receiver), BCRYPT_MAX_QUEUED_PER_IP: '64' });
    try {
      // A busy account: 750 sign-ins, then a password change that signs every other session out: 1 503 events.
      const busy = await person(gw, { tag: 'busy' });
      const left = Array.from({ length: 750 }, (_, i) => i);
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let i = left.shift(); i !== undefined; i = left.shift()) await (await signIn(gw, busy)).client.close();
      }));
      await busy.client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: 'another long passphrase 42', revoke_sessions: true });
      const other = await guest(gw, 'Just Signed Up');
      await eventually(async () => (await count(gw.app.db, 'id IS NULL')) === 0, { what: 'every event numbered' });
      const busyIds = (await gw.app.db.query<{ id: string }>(`SELECT id::text FROM events WHERE user_id = $1 ORDER BY events.id`, [busy.userId])).rows.map((r) => r.id);
      const otherIds = (await gw.app.db.query<{ id: string }>(`SELECT id::text FROM events WHERE user_id = $1 ORDER BY events.id`, [other.userId])).rows.map((r) => r.id);
      assert.equal(busyIds.length, 1_503);
      assert.equal(otherIds.length, 2);
      assert.ok(BigInt(otherIds[0]!) > BigInt(busyIds.at(-1)!), "the other user's events come after all of the busy user's");
      // Two more failed rounds once everything is numbered: the dispatcher is back at its steady pace (a
      // round every 200 ms, every head's 20 ms backoff over by then), so when the receiver returns, the
      // first round finds both users due, and only the selection decides who goes first.
      const headAttempts = async () => (await gw.app.db.query<{ n: number }>(`SELECT attempts AS n FROM events WHERE id = $1`, [busyIds[0]])).rows[0]!.n;
      const attempted = await headAttempts();
      await eventually(async () => (await headAttempts()) >= attempted + 2, { what: "the busy user's first event retried twice more" });

      receiver.down = false;
      await eventually(() => new Set(receiver.deliveries.map((d) => d.id)).size === 1_505, { what: 'all 1 505 events delivered', timeoutMs: 120_000 });
      const arrived = firstArrivalsByUser(receiver.deliveries);
      assert.deepEqual(arrived.get(busy.userId), busyIds, "the busy user's events in order, none missing");
      assert.deepEqual(arrived.get(other.userId), otherIds);
      const firstOther = receiver.deliveries.findIndex((d) => d.data.user_id === other.userId);
      const busyBefore = receiver.deliveries.slice(0, firstOther).filter((d) => d.data.user_id === busy.userId).length;
      console.log(`the other user's first event arrived after ${busyBefore} of the busy user's 1 503`);
      // Within the first batch: before the busy user's share of it was through.
      assert.ok(busyBefore <= EVENTS_PER_USER_PER_BATCH, `${busyBefore} of the busy user's events went first`);
    } finally {
      await gw.close();
      await receiver.close();
    }
  });
});

describe('retention', () => {
  it('prunes delivered events EVENT_RETENTION_DAYS after they were written, from the outbox and the feed; pending ones stay', async () => {
    const receiver = await startWebhookReceiver();
    const gw = await startGateway({ ...webhookEnv(receiver), EVENT_RETENTION_DAYS: '7', API_PORT: '0', API_KEYS: API_KEY });
    const feed = async () => {
      const res = await request(`http://127.0.0.1:${gw.app.apiPort}/v1/events?limit=1000`, { headers: { authorization: `Bearer ${API_KEY}` } });
      assert.equal(res.statusCode, 200);
      return ((await res.body.json()) as { events: Array<{ data: { user_id: string } }> }).events.map((e) => e.data.user_id);
    };
    const prunes = () => gw.logs.filter((l) => l.msg === 'pruned old account events');
    try {
      const delivered = await guest(gw, 'Delivered Long Ago');
      await eventually(async () => (await count(gw.app.db, `state = 'delivered'`)) === 2, { what: 'the first sign-up delivered' });
      receiver.down = true;
      const waiting = await guest(gw, 'Still Waiting');
      await eventually(async () => (await count(gw.app.db, `attempts > 0 AND user_id = $1`, [waiting.userId])) === 1, { what: 'the second sign-up failing' });
      assert.deepEqual(await feed(), [delivered.userId, delivered.userId, waiting.userId, waiting.userId]);

      // Six days on: a prune runs (hourly, by the gateway's clock) and keeps everything, younger than seven days.
      const before = prunes().length;
      gw.clock.advance(6 * DAY_MS);
      await eventually(() => prunes().length > before, { what: 'a prune six days on' });
      assert.equal(prunes().at(-1)!.pruned, 0);
      assert.equal(await count(gw.app.db, 'true'), 4);

      // Eight days on: the delivered ones go; the pending ones stay until delivered.
      gw.clock.advance(2 * DAY_MS);
      await eventually(async () => (await count(gw.app.db, 'true')) === 2, { what: 'the delivered events pruned' });
      assert.equal(await count(gw.app.db, `user_id = $1 AND state = 'pending'`, [waiting.userId]), 2);
      assert.deepEqual(await feed(), [waiting.userId, waiting.userId]);
      receiver.down = false;
      await eventually(() => receiver.deliveries.filter((d) => d.data.user_id === waiting.userId).length === 2, { what: 'the kept events delivered' });
    } finally {
      await gw.close();
      await receiver.close();
    }
  });
});
