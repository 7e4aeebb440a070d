/** The shared job queue: concurrency, round-robin turns between sources, bounds, idle and clear. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobQueue, QueueFullError } from '../../src/services/jobQueue.js';

/** A job that runs until released, recording when it started. */
function gate(order: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { work: () => (order.push(name), done), release: () => release() };
}

describe('job queue', () => {
  it('runs at most `concurrency` jobs and lets sources take turns', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const order: string[] = [];
    const first = gate(order, 'a1');
    const running = queue.run(first.work, 'a');
    // Source a floods the queue; b queues one job after all of them.
    const jobs = [queue.run(async () => void order.push('a2'), 'a'), queue.run(async () => void order.push('a3'), 'a')];
    jobs.push(queue.run(async () => void order.push('b1'), 'b'));
    assert.equal(queue.running, 1);
    assert.equal(queue.queued, 3);
    first.release();
    await Promise.all([running, ...jobs]);
    assert.deepEqual(order, ['a1', 'a2', 'b1', 'a3'], 'b does not wait behind all of a');
  });

  it('refuses work past its bounds instead of queueing it', async () => {
    const queue = new JobQueue({ concurrency: 1, maxQueued: 3, maxQueuedPerSource: 2 });
    const order: string[] = [];
    const first = gate(order, 'x');
    const running = queue.run(first.work, 'a');
    const queued = [queue.run(async () => {}, 'a'), queue.run(async () => {}, 'a')];
    await assert.rejects(queue.run(async () => {}, 'a'), (err: unknown) => err instanceof QueueFullError && err.scope === 'source');
    queued.push(queue.run(async () => {}, 'b'));
    await assert.rejects(queue.run(async () => {}, 'c'), (err: unknown) => err instanceof QueueFullError && err.scope === 'total');
    first.release();
    await Promise.all([running, ...queued]);
    await queue.idle();
    assert.equal(queue.running + queue.queued, 0);
  });

  it('clear drops waiting jobs with the reason and idle resolves', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const first = gate([], 'x');
    const running = queue.run(first.work);
    const waiting = queue.run(async () => 'never');
    assert.equal(queue.clear(new Error('closed')), 1);
    await assert.rejects(waiting, /closed/);
    first.release();
    await running;
    await queue.idle();
  });
});
