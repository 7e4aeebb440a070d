// Preloaded into processes the benchmark measures (`node --expose-gc --import
// ./scripts/bench/probe.mjs ...`): answers the parent over the IPC channel with
// memory and event-loop delay, and starts and stops a CPU profile (inspector
// session in this process) so that only the measured rounds are profiled. The
// gateway needs no benchmark hook of its own. Inert in a process started
// without an IPC channel, and in a cluster worker: workers inherit this
// --import and the environment, and their IPC channel goes to the primary,
// which never asks them, so there the probe would only add its event-loop
// timer to the gateway's CPU (8.8 ms/s per process measured here: three
// times in WORKERS=2 against once in the bare server).
import cluster from 'node:cluster';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';

if (process.send && process.env.OSMIUM_BENCH_PROBE === '1' && !cluster.isWorker) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const ms = (ns) => Math.round(ns / 1e3) / 1e3;
  let inspector = null;
  const post = (method, params) =>
    new Promise((resolve, reject) => inspector.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
  const reply = (id, extra = {}) => {
    const memory = process.memoryUsage();
    process.send({
      probe: 'reply',
      id,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      delay: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), count: delay.count },
      ...extra,
    });
  };
  process.on('message', (message) => {
    if (!message || typeof message !== 'object' || message.probe === undefined) return;
    const { probe, id } = message;
    if (probe === 'profile-start') {
      if (!inspector) {
        inspector = new Session();
        inspector.connect();
      }
      void post('Profiler.enable')
        .then(() => post('Profiler.start'))
        .then(() => reply(id), (err) => reply(id, { error: String(err) }));
      return;
    }
    if (probe === 'profile-stop') {
      // The profile goes to a file: it can be tens of megabytes, too much for one IPC message.
      void post('Profiler.stop')
        .then(({ profile }) => writeFileSync(message.file, JSON.stringify(profile)))
        .then(() => reply(id), (err) => reply(id, { error: String(err) }));
      return;
    }
    if (probe === 'gc' && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    if (probe === 'reset-delay') delay.reset();
    reply(id);
  });
  // The IPC channel must not keep a gateway alive after its own shutdown.
  process.channel?.unref();
}
