/**
 * The contract every LiveState implementation keeps (src/store/liveState.ts),
 * as one suite run against each of them (liveState.test.ts): memory and Redis
 * today, Redis Cluster next. A new implementation passes this before the
 * gateway uses it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { LiveState } from '../../src/store/liveState.js';

export interface LiveStateFixture {
  /** A new, empty LiveState with a key space of its own. */
  create(): Promise<LiveState>;
  /**
   * Two LiveStates on one shared store, as two gateway instances see it.
   * Absent for an in-process implementation (one instance only).
   */
  createPair?(): Promise<[LiveState, LiveState]>;
}

let counter = 0;
/** A session id no other test uses (decimal string, like snowflakes). */
const sessionId = () => `${Date.now()}${String(counter++).padStart(6, '0')}`;
const USER = '4242';

export function liveStateContract(name: string, fixture: LiveStateFixture): void {
  describe(`LiveState contract: ${name}`, () => {
    const opened: LiveState[] = [];
    const create = async () => {
      const live = await fixture.create();
      opened.push(live);
      return live;
    };
    after(async () => {
      await Promise.all(opened.map((l) => l.close()));
    });

    it('knows nothing of a session it was never told about', async () => {
      const live = await create();
      const sid = sessionId();
      assert.deepEqual(await live.getSession(sid), { state: 'unknown' });
      assert.deepEqual(await live.lastActive([sid]), new Map());
      assert.deepEqual(await live.lastActive([]), new Map());
      await live.ping();
    });

    it('caches a valid session with its user and activity', async () => {
      const live = await create();
      const sid = sessionId();
      await live.cacheSession(sid, USER, 1_000);
      assert.deepEqual(await live.getSession(sid), { state: 'valid', userId: USER, lastActive: 1_000 });
      assert.deepEqual(await live.lastActive([sid, sessionId()]), new Map([[sid, 1_000]]));
    });

    it('caching again never moves known activity backwards', async () => {
      const live = await create();
      const sid = sessionId();
      await live.cacheSession(sid, USER, 2_000);
      await live.cacheSession(sid, USER, 1_000);
      assert.deepEqual(await live.lastActive([sid]), new Map([[sid, 2_000]]));
    });

    it('a revocation replaces the entry, drops its activity, and caching cannot resurrect it', async () => {
      const live = await create();
      const [revoked, kept] = [sessionId(), sessionId()];
      await live.cacheSession(revoked, USER, 1_000);
      await live.cacheSession(kept, USER, 1_000);
      await live.markRevoked([revoked]);
      await live.markRevoked([]);
      assert.deepEqual(await live.getSession(revoked), { state: 'revoked' });
      assert.deepEqual(await live.lastActive([revoked, kept]), new Map([[kept, 1_000]]));
      // A check that read Postgres just before the revoke caches "valid" just after it.
      await live.cacheSession(revoked, USER, 3_000);
      assert.deepEqual(await live.getSession(revoked), { state: 'revoked' });
      assert.equal((await live.getSession(kept)).state, 'valid');
    });

    it('revokes a session it never cached', async () => {
      const live = await create();
      const sid = sessionId();
      await live.markRevoked([sid]);
      assert.deepEqual(await live.getSession(sid), { state: 'revoked' });
    });

    it('touch records activity for a whole batch, and an empty batch changes nothing', async () => {
      const live = await create();
      const [a, b] = [sessionId(), sessionId()];
      await live.cacheSession(a, USER, 1_000);
      await live.touch(new Map([[a, 5_000], [b, 6_000]]));
      await live.touch(new Map());
      assert.deepEqual(await live.lastActive([a, b]), new Map([[a, 5_000], [b, 6_000]]));
      assert.deepEqual(await live.getSession(a), { state: 'valid', userId: USER, lastActive: 5_000 });
    });

    it('touch never moves activity backwards', async () => {
      const live = await create();
      const [older, newer] = [sessionId(), sessionId()];
      await live.touch(new Map([[older, 5_000], [newer, 5_000]]));
      // One batch: one session goes back in time (a late flush), the other forward.
      await live.touch(new Map([[older, 4_000], [newer, 7_000]]));
      assert.deepEqual(await live.lastActive([older, newer]), new Map([[older, 5_000], [newer, 7_000]]));
    });

    if (fixture.createPair) {
      const createPair = fixture.createPair;
      describe('two instances on one store', () => {
        it('share validity, revocations and activity', async () => {
          const [one, two] = await createPair();
          opened.push(one, two);
          const [valid, revoked] = [sessionId(), sessionId()];
          await one.cacheSession(valid, USER, 1_000);
          await one.cacheSession(revoked, USER, 1_000);
          await two.markRevoked([revoked]);
          await two.touch(new Map([[valid, 2_000]]));
          assert.deepEqual(await two.getSession(valid), { state: 'valid', userId: USER, lastActive: 2_000 });
          assert.deepEqual(await one.getSession(valid), { state: 'valid', userId: USER, lastActive: 2_000 });
          assert.deepEqual(await one.getSession(revoked), { state: 'revoked' });
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
