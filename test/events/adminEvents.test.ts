/**
 * `npm run admin -- events list|retry|replay`, the end of retries
 * (WEBHOOK_RETRY_HOURS) and the prune of delivered events
 * (EVENT_RETENTION_DAYS), against a real gateway and receiver.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guest } from '../helpers/accounts.js';
import { runAdmin } from '../helpers/admin.js';
import { eventually } from '../helpers/eventually.js';
import { createDatabase, startGateway } from '../helpers/stack.js';
import { startWebhookReceiver } from '../helpers/webhookReceiver.js';

describe('admin events', () => {
  it('lists failed events, retries them, replays delivered ones with the same ids; old delivered ones are pruned', async () => {
    const receiver = await startWebhookReceiver();
    receiver.down = true;
    const databaseUrl = await createDatabase();
    // Retries end 0.001 h (3.6 s) after the write: long enough for several attempts first on a loaded
    // machine (at a load of 35 on 2 cores the first attempt came 1.9 s after the write).
    const env = { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: receiver.secret, WEBHOOK_RETRY_HOURS: '0.001', WEBHOOK_RETRY_FIRST_SECONDS: '0.1', WEBHOOK_RETRY_MAX_SECONDS: '0.2' };
    let gw = await startGateway(env, { databaseUrl });
    const admin = (...args: string[]) => runAdmin(['events', ...args], { DATABASE_URL: databaseUrl });
    try {
      const account = await guest(gw, 'Retried');
      const failed = await eventually(async () => {
        const r = await admin('list', '--since', '1h', '--state', 'failed');
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
        return lines.length === 2 ? lines : null;
      }, { what: 'both sign-up events marked failed once the retry period ended', timeoutMs: 30_000 });
      assert.deepEqual(failed.map((e) => e.type), ['user.created', 'session.created']);
      assert.equal(failed[0]!.user_id, account.userId);
      assert.equal(failed[0]!.last_error, 'HTTP 503');
      assert.ok((failed[0]!.attempts as number) >= 2);
      assert.equal(receiver.deliveries.length, 0);

      receiver.down = false;
      const retried = await admin('retry', '--since', '1h');
      assert.equal(retried.code, 0, retried.stderr);
      assert.deepEqual(JSON.parse(retried.stdout), { retried: 2 });
      await eventually(() => receiver.deliveries.length === 2, { what: 'the retried events delivered' });
      assert.deepEqual(receiver.deliveries.map((d) => d.id), failed.map((e) => e.id));

      const replayed = await admin('replay', '--since', new Date(Date.now() - 3_600_000).toISOString());
      assert.deepEqual(JSON.parse(replayed.stdout), { replayed: 2 });
      await eventually(() => receiver.deliveries.length === 4, { what: 'the replayed events delivered again' });
      assert.deepEqual(receiver.deliveries.slice(2).map((d) => d.id), failed.map((e) => e.id), 'replayed with the same ids');
      assert.equal((await admin('list', '--since', 'yesterday')).code, 2, 'a --since that is no time is a usage error');

      // Delivered longer ago than EVENT_RETENTION_DAYS (7): the dispatcher's prune removes them (it runs at its start, then hourly).
      await gw.app.db.query(`UPDATE events SET created_at = now() - interval '8 days', delivered_at = now() - interval '8 days'`);
      await gw.close();
      gw = await startGateway(env, { databaseUrl });
      await eventually(async () => (await gw.app.db.query(`SELECT count(*)::int AS n FROM events`)).rows[0].n === 0, { what: 'the old delivered events pruned' });
    } finally {
      await gw.close();
      await receiver.close();
    }
  });
});
