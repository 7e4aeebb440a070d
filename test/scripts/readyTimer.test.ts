import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { NotReady, READY_CEILING, timeToReady, waitForReady } from '../../scripts/readyTimer.mjs';
import { startProcess } from '../helpers/process.js';

describe('start-to-ready timer (scripts/readyTimer.mjs)', () => {
  it('times the ceiling to its first /readyz 200, with the CPU it used, and stops it after', async () => {
    let child: ChildProcess | undefined;
    const { ms, cpuMs } = await timeToReady({ args: [READY_CEILING], onSpawn: (c) => (child = c) });
    assert.ok(ms > 0 && ms < 30_000, `${ms} ms`);
    assert.ok(cpuMs !== null && cpuMs > 0 && cpuMs < ms * 4, `${cpuMs} ms CPU`);
    assert.ok(child!.exitCode !== null || child!.signalCode !== null, 'stopped once ready');
  });

  it('says why a process never got ready: its exit, with what it printed', async () => {
    await assert.rejects(
      timeToReady({ args: ['-e', 'console.error("no database here"); process.exit(3)'] }),
      (err: Error) => err instanceof NotReady && /^exited with 3:\nno database here$/.test(err.message),
    );
  });

  it('gives up on a process that stays unready, leaving it to the caller', async () => {
    const idle = startProcess(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    const child = idle.child;
    try {
      await assert.rejects(waitForReady(child, 9, { timeoutMs: 200 }), (err: Error) => err instanceof NotReady && err.message === 'not ready within 200 ms');
      assert.equal(child.exitCode, null);
    } finally {
      await idle.stop();
    }
  });
});
