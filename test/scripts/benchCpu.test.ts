import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '../helpers/eventually.js';
import { startProcess } from '../helpers/process.js';
import { cpuPerUnit, sampleCpu } from '../../scripts/bench/cpu.js';
import { openFilesLimit, parseProcStat, processCpuSeconds, processIo, processTree, readProcStat, rssBytes, treeCpuSeconds } from '../../scripts/procfs.mjs';

describe('process CPU, memory and I/O from /proc (scripts/procfs.mjs)', () => {
  it('parses a stat line whose command name holds spaces and parentheses', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const line = '4242 (node (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 12 3 20 0 11 0 123';
    assert.deepEqual(parseProcStat(line), { pid: 4242, ppid: 1, utime: 250, stime: 75, cutime: 12, cstime: 3 });
  });

  it('finds a running child in the process tree, and not once it was reaped', async () => {
    const busy = startProcess(process.execPath, ['-e', 'const end = Date.now() + 300; while (Date.now() < end);']);
    const child = busy.child;
    await eventually(() => processTree(process.pid).includes(child.pid!), { what: 'the running child in this process tree' });
    await busy.exited();
    assert.ok(treeCpuSeconds(process.pid) > 0);
    assert.ok(!processTree(process.pid).includes(child.pid!), 'gone once reaped');
  });

  it('reports CPU per unit for each part, never negative, and this process I/O', () => {
    const before = sampleCpu({ self: process.pid });
    let x = 0;
    for (let i = 0; i < 2_000_000; i++) x += Math.sqrt(i);
    assert.ok(x > 0);
    const after = sampleCpu({ self: process.pid });
    const per = cpuPerUnit(before, after, 10);
    assert.ok(per.parts.self! >= 0);
    assert.equal(per.total, per.parts.self);
    const io = processIo(process.pid);
    assert.ok(io === null || (io.readBytes >= 0 && io.writtenBytes >= 0));
  });

  it("reads this process's own CPU, RSS, parent and descriptor limit, and null for a process that is gone", async () => {
    const own = processCpuSeconds(process.pid)!;
    assert.ok(own > 0 && own <= treeCpuSeconds(process.pid) + 0.05, 'own CPU is part of the tree');
    const rss = rssBytes(process.pid)!;
    assert.ok(Math.abs(rss - process.memoryUsage.rss()) < 64 * 2 ** 20, `VmRSS ${rss} near process.memoryUsage.rss()`);
    assert.equal(readProcStat(process.pid)!.ppid, process.ppid);
    assert.ok(openFilesLimit()! > 0);
    const done = startProcess(process.execPath, ['-e', '']);
    const child = done.child;
    await done.exited();
    assert.equal(processCpuSeconds(child.pid!), null);
    assert.equal(rssBytes(child.pid!), null);
    assert.equal(processIo(child.pid!), null);
  });
});
