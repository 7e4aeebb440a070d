/**
 * Ceiling of figure 3: raw bcrypt.compare throughput with the gateway's
 * thread-pool settings (UV_THREADPOOL_SIZE as inherited, BCRYPT_CONCURRENCY
 * comparisons at once), on the same prehashed input the gateway compares.
 * Prints one JSON line: {"compares": n, "seconds": s, "perSecond": r}.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import bcrypt from 'bcrypt';

const cost = Number(process.env.BCRYPT_COST ?? 12);
const concurrency = Number(process.env.BCRYPT_CONCURRENCY ?? availableParallelism());
const seconds = Number(process.env.CEILING_SECONDS ?? 10);

const input = createHash('sha256').update('load-test-password-1').digest('base64');
const hash = await bcrypt.hash(input, cost);
let compares = 0;
// Event-loop delay of a process doing nothing but this: what bcrypt alone costs the loop here.
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const started = performance.now();
const until = started + seconds * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      await bcrypt.compare(input, hash);
      compares++;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
delay.disable();
const delayP99 = Math.round(delay.percentile(99) / 1e3) / 1e3;
console.log(JSON.stringify({ compares, seconds: elapsed, perSecond: compares / elapsed, cost, concurrency, delayP99 }));
