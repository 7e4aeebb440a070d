// Preloaded into processes the benchmark measures (`node --expose-gc --import
// ./scripts/bench/probe.mjs ...`): answers the parent over the IPC channel with
// memory and event-loop delay, so the gateway needs no benchmark hook of its
// own. Inert in a process started without an IPC channel.
import { monitorEventLoopDelay } from 'node:perf_hooks';

if (process.send && process.env.OSMIUM_BENCH_PROBE === '1') {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const ms = (ns) => Math.round(ns / 1e3) / 1e3;
  process.on('message', (message) => {
    if (!message || typeof message !== 'object' || message.probe === undefined) return;
    const { probe, id } = message;
    if (probe === 'gc' && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    if (probe === 'reset-delay') delay.reset();
    const memory = process.memoryUsage();
    process.send({
      probe: 'reply',
      id,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      delay: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), count: delay.count },
    });
  });
  // The IPC channel must not keep a gateway alive after its own shutdown.
  process.channel?.unref();
}
