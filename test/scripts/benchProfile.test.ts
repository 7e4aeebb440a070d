import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSelfTime, summarizeCpuProfile, type CpuProfile } from '../../scripts/bench/profile.js';

describe('CPU profile summary', () => {
  it('adds self time per function across nodes, leaves idle out, and ranks the top entries', () => {
    const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)') },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('jwtVerify', 'file:///repo/node_modules/jose/verify.js', 9) },
        { id: 4, callFrame: frame('jwtVerify', 'file:///repo/node_modules/jose/verify.js', 9) }, // same function, another call path
        { id: 5, callFrame: frame('query', 'file:///repo/src/store/sessionsRepo.ts', 41) },
        { id: 6, callFrame: frame('(garbage collector)') },
        { id: 7, callFrame: frame('writev') },
      ],
      samples: [2, 3, 4, 5, 6, 2, 3, 7],
      timeDeltas: [5000, 100, 200, 150, 50, 9000, 100, 10],
    };
    const { entries, busyMs } = summarizeCpuProfile(profile, 3, '/repo');
    assert.equal(busyMs, 0.61);
    assert.deepEqual(entries.map((e) => [e.name, e.where, Math.round(e.selfMs * 1000)]), [
      ['jwtVerify', 'node_modules/jose/verify.js:10', 400],
      ['query', 'src/store/sessionsRepo.ts:42', 150],
      ['(garbage collector)', '', 50],
    ]);
    assert.ok(Math.abs(entries[0]!.share - 400 / 610) < 1e-9);
    assert.match(formatSelfTime(entries), /^ 1\.\s+65\.6 %\s+0 ms {2}jwtVerify {2}node_modules\/jose\/verify\.js:10/);
    assert.deepEqual(summarizeCpuProfile(profile, 10, '/repo').entries.at(-1), { name: 'writev', where: '(native)', selfMs: 0.01, share: 10 / 610 });
  });
});
