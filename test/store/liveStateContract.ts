/**
 * The contract every LiveState implementation keeps (src/store/liveState.ts),
 * as one suite run against each of them (liveState.test.ts): memory, one Redis
 * node and a Redis Cluster. A new implementation passes this before the
 * gateway uses it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { LiveState, LiveStateTtls, SessionEntry } from '../../src/store/liveState.js';
import { clockPast } from '../helpers/eventually.js';

export interface LiveStateFixture {
  /** A new, empty LiveState with a key space of its own (TTLs: an hour unless given). */
  create(ttls?: Partial<LiveStateTtls>): Promise<LiveState>;
  /**
   * Two LiveStates on one shared store, as two gateway instances see it.
   * Absent for an in-process implementation (one instance only).
   */
  createPair?(): Promise<[LiveState, LiveState]>;
}

let counter = 0;
/** A session id no other test uses (decimal string, like snowflakes). */
const sessionId = () => `${Date.now()}${String(counter++).padStart(6, '0')}`;
/** An entry as Authorize caches it; the name may hold the separator and any Unicode. */
const entry = (name = 'Ada | Lovelace ✓'): SessionEntry => ({ userId: '4242', name, bot: false, device: 'fp-1' });

export function liveStateContract(name: string, fixture: LiveStateFixture): void {
  describe(`LiveState contract: ${name}`, () => {
    const opened: LiveState[] = [];
    const create = async (ttls?: Partial<LiveStateTtls>) => {
      const live = await fixture.create(ttls);
      opened.push(live);
      return live;
    };
    after(async () => {
      await Promise.all(opened.map((l) => l.close()));
    });

    it('knows nothing of a session it was never told about', async () => {
      const live = await create();
      const sid = sessionId();
      assert.deepEqual(await live.readSession(sid), { state: 'unknown' });
      assert.deepEqual(await live.lastActive([sid]), new Map());
      assert.deepEqual(await live.lastActive([]), new Map());
      await live.ping();
    });

    it('caches a valid session with its entry, unchanged, and a later entry replaces it', async () => {
      const live = await create();
      const sid = sessionId();
      await live.cacheSession(sid, entry());
      assert.deepEqual(await live.readSession(sid), { state: 'valid', entry: entry() });
      const bot = { userId: '4242', name: 'Renamed', bot: true, device: 'fp-2' };
      await live.cacheSession(sid, bot);
      assert.deepEqual(await live.readSession(sid), { state: 'valid', entry: bot });
    });

    it('a revocation replaces the entry, drops its activity, and caching cannot resurrect it', async () => {
      const live = await create();
      const [revoked, kept] = [sessionId(), sessionId()];
      await live.cacheSession(revoked, entry());
      await live.cacheSession(kept, entry());
      await live.touch(new Map([[revoked, 1_000], [kept, 1_000]]));
      await live.markRevoked([revoked]);
      await live.markRevoked([]);
      assert.deepEqual(await live.readSession(revoked), { state: 'revoked' });
      assert.deepEqual(await live.lastActive([revoked, kept]), new Map([[kept, 1_000]]));
      // A check that read Postgres just before the revoke caches "valid" just after it.
      await live.cacheSession(revoked, entry());
      assert.deepEqual(await live.readSession(revoked), { state: 'revoked' });
      assert.equal((await live.readSession(kept)).state, 'valid');
    });

    it('revokes a session it never cached', async () => {
      const live = await create();
      const sid = sessionId();
      await live.markRevoked([sid]);
      assert.deepEqual(await live.readSession(sid), { state: 'revoked' });
    });

    it('forget drops valid entries and keeps tombstones', async () => {
      const live = await create();
      const [valid, revoked] = [sessionId(), sessionId()];
      await live.cacheSession(valid, entry());
      await live.markRevoked([revoked]);
      await live.forget([valid, revoked, sessionId()]);
      assert.deepEqual(await live.readSession(valid), { state: 'unknown' });
      assert.deepEqual(await live.readSession(revoked), { state: 'revoked' });
    });

    it('touch records activity for a whole batch, and an empty batch changes nothing', async () => {
      const live = await create();
      const [a, b] = [sessionId(), sessionId()];
      await live.touch(new Map([[a, 5_000], [b, 6_000]]));
      await live.touch(new Map());
      assert.deepEqual(await live.lastActive([a, b, sessionId()]), new Map([[a, 5_000], [b, 6_000]]));
    });

    it('touch never moves activity backwards', async () => {
      const live = await create();
      const [older, newer] = [sessionId(), sessionId()];
      await live.touch(new Map([[older, 5_000], [newer, 5_000]]));
      // One batch: one session goes back in time (a late flush), the other forward.
      await live.touch(new Map([[older, 4_000], [newer, 7_000]]));
      assert.deepEqual(await live.lastActive([older, newer]), new Map([[older, 5_000], [newer, 7_000]]));
    });

    it('a read with an activity time records it for a valid entry only, never moving it backwards', async () => {
      const live = await create();
      const [valid, revoked, unknown] = [sessionId(), sessionId(), sessionId()];
      await live.cacheSession(valid, entry());
      await live.markRevoked([revoked]);
      assert.deepEqual(await live.readSession(valid, 5_000), { state: 'valid', entry: entry() });
      assert.deepEqual(await live.readSession(revoked, 5_000), { state: 'revoked' });
      assert.deepEqual(await live.readSession(unknown, 5_000), { state: 'unknown' });
      assert.deepEqual(await live.lastActive([valid, revoked, unknown]), new Map([[valid, 5_000]]));
      await live.readSession(valid, 4_000);
      assert.deepEqual(await live.lastActive([valid]), new Map([[valid, 5_000]]), 'an older time does not lower it');
      await live.touch(new Map([[valid, 9_000]]));
      await live.readSession(valid, 8_000);
      assert.deepEqual(await live.lastActive([valid]), new Map([[valid, 9_000]]));
    });

    it('extends a tombstone it reads by the tombstone TTL, not the entry TTL', async () => {
      const live = await create({ entryMs: 3_600_000, tombstoneMs: 150 });
      const revoked = sessionId();
      await live.markRevoked([revoked]);
      assert.deepEqual(await live.readSession(revoked, 5_000), { state: 'revoked' });
      await clockPast(Date.now() + 200);
      assert.deepEqual(await live.readSession(revoked), { state: 'unknown' });
    });

    it('forgets entries, tombstones and activity left unused for their TTL', async () => {
      const live = await create({ entryMs: 150, tombstoneMs: 150, activityMs: 150 });
      const [valid, revoked] = [sessionId(), sessionId()];
      await live.cacheSession(valid, entry());
      await live.markRevoked([revoked]);
      await live.touch(new Map([[valid, 1_000]]));
      const written = Date.now();
      await clockPast(written + 200);
      assert.deepEqual(await live.readSession(valid), { state: 'unknown' });
      assert.deepEqual(await live.readSession(revoked), { state: 'unknown' });
      assert.deepEqual(await live.lastActive([valid]), new Map());
    });

    if (fixture.createPair) {
      const createPair = fixture.createPair;
      describe('two instances on one store', () => {
        it('share entries, revocations and activity', async () => {
          const [one, two] = await createPair();
          opened.push(one, two);
          const [valid, revoked] = [sessionId(), sessionId()];
          await one.cacheSession(valid, entry());
          await one.cacheSession(revoked, entry());
          await two.markRevoked([revoked]);
          await two.touch(new Map([[valid, 2_000]]));
          assert.deepEqual(await two.readSession(valid), { state: 'valid', entry: entry() });
          assert.deepEqual(await one.readSession(revoked), { state: 'revoked' });
          assert.deepEqual(await one.lastActive([valid]), new Map([[valid, 2_000]]));
        });

        it("an instance flushing older activity does not undo another instance's newer activity", async () => {
          const [one, two] = await createPair();
          opened.push(one, two);
          const sid = sessionId();
          await one.touch(new Map([[sid, 9_000]]));
          await two.touch(new Map([[sid, 8_000]]));
          assert.deepEqual(await one.lastActive([sid]), new Map([[sid, 9_000]]));
          assert.deepEqual(await two.lastActive([sid]), new Map([[sid, 9_000]]));
        });
      });
    }
  });
}
