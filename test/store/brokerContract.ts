/**
 * The contract every Broker implementation keeps (src/store/broker.ts), as one
 * suite run against each of them (broker.test.ts): memory, Redis pub/sub and
 * Redis Cluster sharded pub/sub.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Broker } from '../../src/store/broker.js';
import { eventually } from '../helpers/eventually.js';

export interface BrokerFixture {
  /** A new Broker with a topic space of its own. */
  create(): Promise<Broker>;
  /** Two Brokers on one shared backend, as two gateway instances. Absent for an in-process implementation. */
  createPair?(): Promise<[Broker, Broker]>;
  /**
   * Cuts the broker's connection to its backend (it reconnects by itself), so
   * messages may be lost. Absent where nothing can be lost.
   */
  interrupt?(broker: Broker): Promise<void>;
}

/** Collects what a handler receives. */
function inbox(): { messages: string[]; handler: (payload: string) => void; next(count: number, what: string): Promise<string[]> } {
  const messages: string[] = [];
  return {
    messages,
    handler: (payload) => messages.push(payload),
    next: (count, what) => eventually(() => (messages.length >= count ? messages.slice(0, count) : undefined), { what }),
  };
}

export function brokerContract(name: string, fixture: BrokerFixture): void {
  describe(`Broker contract: ${name}`, () => {
    const opened: Broker[] = [];
    const create = async () => {
      const broker = await fixture.create();
      opened.push(broker);
      return broker;
    };
    after(async () => {
      await Promise.all(opened.map((b) => b.close()));
    });

    it("delivers a payload unchanged, in order, to every handler of the topic and to no other topic's", async () => {
      const broker = await create();
      const [first, second, elsewhere] = [inbox(), inbox(), inbox()];
      await broker.subscribe('sessions.revoked', first.handler);
      await broker.subscribe('sessions.revoked', second.handler);
      await broker.subscribe('keys.changed', elsewhere.handler);
      const payloads = ['{"ids":["123456789012345678"],"at":1}', '', 'ünïcødé ✓ 🔑', 'x'.repeat(10_000)];
      for (const p of payloads) await broker.publish('sessions.revoked', p);
      await broker.publish('keys.changed', 'last');
      // The other topic's message was published last: once it is in, so are the others.
      assert.deepEqual(await elsewhere.next(1, 'the keys.changed message'), ['last']);
      assert.deepEqual(await first.next(payloads.length, 'every payload to the first handler'), payloads);
      assert.deepEqual(await second.next(payloads.length, 'every payload to the second handler'), payloads);
      assert.equal(first.messages.length, payloads.length);
    });

    it('publish counts the instances subscribed to the topic, not their handlers', async () => {
      const broker = await create();
      assert.equal(await broker.publish('keys.changed', 'nobody listens'), 0);
      const box = inbox();
      await broker.subscribe('keys.changed', box.handler);
      await broker.subscribe('keys.changed', () => {});
      assert.equal(await broker.publish('keys.changed', 'heard'), 1, 'one instance, however many handlers it has');
      await box.next(1, 'the message');
    });

    it('keeps nothing for later: a handler hears only what is published after it subscribed', async () => {
      const broker = await create();
      await broker.publish('sessions.revoked', 'before');
      const late = inbox();
      await broker.subscribe('sessions.revoked', late.handler);
      await broker.publish('sessions.revoked', 'after');
      assert.deepEqual(await late.next(1, 'the message published after subscribing'), ['after']);
      assert.deepEqual(late.messages, ['after']);
    });

    if (fixture.createPair) {
      const createPair = fixture.createPair;
      it('delivers a message to every instance, the publishing one included', async () => {
        const [one, two] = await createPair();
        opened.push(one, two);
        const [atOne, atTwo] = [inbox(), inbox()];
        await one.subscribe('sessions.revoked', atOne.handler);
        await two.subscribe('sessions.revoked', atTwo.handler);
        assert.equal(await one.publish('sessions.revoked', 'from one'), 2, 'both instances received it');
        await two.publish('sessions.revoked', 'from two');
        assert.deepEqual(await atTwo.next(2, 'both messages on instance two'), ['from one', 'from two']);
        assert.deepEqual(await atOne.next(2, 'both messages on instance one'), ['from one', 'from two']);
      });
    }

    if (fixture.interrupt) {
      const interrupt = fixture.interrupt;
      it('after losing its connection, asks for a resync and delivers again', async () => {
        const broker = await create();
        const resyncs: number[] = [];
        broker.onResync((lostAt) => resyncs.push(lostAt));
        const box = inbox();
        await broker.subscribe('sessions.revoked', box.handler);
        await broker.publish('sessions.revoked', 'before');
        await box.next(1, 'the message before the interruption');
        const cutAt = Date.now();
        await interrupt(broker);
        await eventually(() => resyncs.length === 1, { what: 'onResync after the reconnect' });
        assert.ok(resyncs[0]! >= cutAt && resyncs[0]! <= Date.now(), 'onResync says when the connection was lost');
        // The subscription came back by itself.
        await eventually(
          async () => {
            await broker.publish('sessions.revoked', 'after');
            return box.messages.includes('after');
          },
          { what: 'a message published after the reconnect' },
        );
      });
    }
  });
}
