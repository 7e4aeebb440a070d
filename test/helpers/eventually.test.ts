/** eventually(): resolves with the first truthy value, retries on falsy values and errors, fails naming what never happened. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clockPast, eventually } from './eventually.js';

describe('eventually', () => {
  it('resolves with the first truthy value, polling through falsy values and errors', async () => {
    let polls = 0;
    const value = await eventually(
      () => {
        polls++;
        if (polls === 1) throw new Error('not ready');
        return polls >= 3 ? { polls } : null;
      },
      { what: 'the third poll', intervalMs: 1 },
    );
    assert.deepEqual(value, { polls: 3 });
  });

  it('fails after the deadline naming what it waited for, with the last error', async () => {
    await assert.rejects(
      eventually(
        () => {
          throw new Error('connection refused');
        },
        { what: 'the server to answer', timeoutMs: 50, intervalMs: 5 },
      ),
      /timed out after 50 ms \(\d+ polls\) waiting for the server to answer; last error: connection refused/,
    );
    await assert.rejects(eventually(() => 0, { what: 'a count', timeoutMs: 20 }), /waiting for a count; last value: 0/);
  });

  it('clockPast waits until the millisecond clock moved on', async () => {
    const now = Date.now();
    await clockPast(now);
    assert.ok(Date.now() > now);
  });
});
