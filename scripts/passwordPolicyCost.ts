/**
 * Measures what the password strength check (src/services/passwordPolicy.ts)
 * costs: the one-time dictionary load, and CPU time per check for typical,
 * long and crafted passwords (the worst inputs found). CPU time, not wall
 * time, so a busy machine does not inflate it much.
 *   node --import tsx scripts/passwordPolicyCost.ts [--rounds N]   (--help: the options)
 */
import { cpus, loadavg } from 'node:os';
import { PasswordPolicy } from '../src/services/passwordPolicy.js';
import { defineCommand, numberValue } from './commandLine.mjs';

const { rounds } = defineCommand(
  {
    usage: 'node --import tsx scripts/passwordPolicyCost.ts [options]',
    options: { rounds: { type: 'string', value: 'N', help: 'checks per kind of password, 1-100000 (default 200)' } },
  },
  (v) => ({ rounds: v.rounds === undefined ? 200 : numberValue('rounds', v.rounds, { min: 1, max: 100_000 }) }),
).parseOrExit();
const owner = { email: 'margaret.hamilton@example.test', name: 'Margaret Hamilton' };
const policy = new PasswordPolicy({ minScore: 3 });

const cpuMs = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

let start = process.cpuUsage();
await policy.evaluate('warm up the dictionaries', owner);
const loadMs = cpuMs(start);

const sets: Record<string, (i: number) => string> = {
  'typical (12-22 chars)': (i) => ['correct horse battery', 'Summer2024!', 'velvet quasar lantern', 'Tr0ub4dor&3'][i % 4]! + i,
  'long passphrase (60 chars)': (i) => `the quick brown fox jumps over the lazy dog near river ${i}`.slice(0, 60),
  '128 chars random': (i) => Buffer.from(`${i}`.repeat(200)).toString('base64').slice(0, 128),
  'crafted l33t repeat (128 chars)': (i) => `p@$$w0rd!${i}`.repeat(20).slice(0, 128),
  'crafted symbols (128 chars)': (i) => `4@|3!1$0+7${i}`.repeat(20).slice(0, 128),
};

console.log(`CPU ${cpus()[0]?.model ?? '?'} x${cpus().length}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`dictionary load (once per process): ${loadMs.toFixed(0)} ms CPU`);
for (const [name, make] of Object.entries(sets)) {
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const password = make(i);
    start = process.cpuUsage();
    await policy.evaluate(password, owner);
    samples.push(cpuMs(start));
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  console.log(`${name.padEnd(34)} mean ${mean.toFixed(2)} ms  p50 ${at(0.5).toFixed(2)}  p99 ${at(0.99).toFixed(2)}  max ${samples.at(-1)!.toFixed(2)} (CPU ms per check, ${rounds} checks)`);
}
