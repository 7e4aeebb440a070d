/**
 * Runs a share of the load-test sockets in one thread: ramps them up, drives
 * their steps (closed loop, paced per socket, or open loop at a total rate),
 * stops at the deadline or when the request budget is spent, and reports
 * progress. A worker thread runs one engine; `--workers 0` runs it in place.
 */
import type { LoadOptions, ScenarioName } from './args.js';
import { createSlot, type Slot, type SlotEnv } from './scenarios.js';
import { Recorder, type SerializedRecorder } from './stats.js';

export interface EngineJob {
  options: LoadOptions;
  /** The sockets this engine runs: global index (for ramp timing and source address) and scenario. */
  slots: Array<{ index: number; scenario: ScenarioName }>;
  /** Requests this engine may send (its share of `--requests`); null: until the deadline. */
  requestBudget: number | null;
  /** Open-loop rate of this engine (its share of `--total-rate`). */
  totalRate: number | null;
  /** Distinct tokens for `authorize` steps, each used once; null: every slot signs up its own guest. */
  tokens: string[] | null;
}

export interface EngineProgress {
  steps: number;
  errors: number;
  openSockets: number;
  slotsReady: number;
  /** Sockets that could not be prepared (after retries). */
  slotsFailed: number;
}

export interface EngineResult {
  recorder: SerializedRecorder;
  elapsedS: number;
  /** Seconds spent opening and preparing sockets before the measured run. */
  setupS: number;
  steps: number;
  peakSockets: number;
}

/** Tries to prepare a socket (connect, sign up or authorize) before counting it as failed. */
const SETUP_ATTEMPTS = 3;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Loopback source address of a socket slot: 127.0.0.1 .. 127.0.0.N round robin. */
export function sourceAddress(index: number, addresses: number): string | undefined {
  if (addresses <= 1) return undefined;
  return `127.0.0.${(index % addresses) + 1}`;
}

export async function runEngine(job: EngineJob, onProgress: (p: EngineProgress) => void, shouldStop: () => boolean = () => false): Promise<EngineResult> {
  const { options } = job;
  const recorder = new Recorder();
  let openSockets = 0;
  let peakSockets = 0;
  let steps = 0;
  let slotsReady = 0;
  let slotsFailed = 0;
  let budget = job.requestBudget;
  let tokenIndex = 0;
  const tokens = job.tokens;
  const takeToken = tokens ? () => tokens[tokenIndex++] : null;

  const setupRecorder = new Recorder();
  const setupStarted = performance.now();
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  // Setup (sockets opened over the ramp, accounts created) is bounded too.
  let deadlineTimer = setTimeout(stop, (options.rampS + options.maxTimeS) * 1000);
  const checkStop = setInterval(() => {
    if (shouldStop()) stop();
  }, 50);

  const takeBudget = (): boolean => {
    if (stopping) return false;
    if (budget === null) return true;
    if (budget <= 0) {
      stop();
      return false;
    }
    budget--;
    return true;
  };

  const report = () => onProgress({ steps, errors: recorder.totalErrors + slotsFailed, openSockets, slotsReady, slotsFailed });
  const progressTimer = setInterval(report, 500);

  const inFlight = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const envs: SlotEnv[] = [];
  const ready: Slot[] = [];
  const allSlots: Slot[] = [];
  await Promise.all(
    job.slots.map(async ({ index, scenario }) => {
      const rampDelay = options.connections > 1 ? (index / options.connections) * options.rampS * 1000 : 0;
      if (rampDelay) await sleep(rampDelay);
      if (stopping) return;
      const env: SlotEnv = {
        url: options.url,
        peerUrl: options.peerUrl,
        recorder: setupRecorder,
        timeoutMs: options.timeoutMs,
        inviteCode: options.inviteCode,
        localAddress: sourceAddress(index, options.sourceAddresses),
        takeToken: scenario === 'authorize' || scenario === 'idle' ? takeToken : null,
        sockets(delta) {
          openSockets += delta;
          if (openSockets > peakSockets) peakSockets = openSockets;
        },
      };
      const slot = createSlot(scenario, env);
      allSlots.push(slot);
      // A refused or reset connect (accept backlog full during a fast ramp) is retried, as a client would.
      let attempt = 0;
      for (;;) {
        try {
          await slot.setup();
          break;
        } catch {
          await slot.close().catch(() => undefined);
          if (++attempt >= SETUP_ATTEMPTS || stopping) {
            setupRecorder.error('setup', 'failed');
            slotsFailed++;
            return;
          }
          setupRecorder.error('setup-retry', 'retried');
          await sleep(100 * attempt + Math.random() * 200);
        }
      }
      envs.push(env);
      ready.push(slot);
      slotsReady++;
    }),
  );
  const setupS = (performance.now() - setupStarted) / 1000;

  // The measured run starts when every socket is ready.
  for (const env of envs) env.recorder = recorder;
  const started = performance.now();
  const deadline = started + (options.durationS ?? options.maxTimeS) * 1000;
  clearTimeout(deadlineTimer);
  if (!stopping) deadlineTimer = setTimeout(stop, deadline - started);
  const perSocketRate = options.ratePerSocket;
  const readySlots: Slot[] = [];

  const driveSlot = async (slot: Slot) => {
    if (!slot.countsAsRequest) {
      // Idle sockets: a heartbeat every heartbeatS (or at --rate), until the end. The first
      // comes after a random share of the interval, as real clients jitter theirs (Discord's
      // gateway asks for exactly that), so sockets opened together do not heartbeat in bursts.
      const interval = perSocketRate ? 1000 / perSocketRate : options.heartbeatS * 1000;
      let next = performance.now() + interval * Math.random();
      while (!stopping && performance.now() < deadline) {
        // Short naps, so that the end of a --requests run is not held up by idle sockets.
        await sleep(Math.min(250, next - performance.now(), deadline - performance.now()));
        if (stopping || performance.now() >= deadline) break;
        if (performance.now() < next) continue;
        next += interval;
        await slot.step();
      }
      return;
    }
    if (job.totalRate) {
      readySlots.push(slot); // the open-loop scheduler drives it
      return;
    }
    const interval = perSocketRate ? 1000 / perSocketRate : 0;
    let next = performance.now();
    while (takeBudget()) {
      if (interval) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        next += interval;
        if (stopping) break;
      }
      await slot.step();
      steps++;
    }
  };
  const ramps = ready.map(driveSlot);

  let openLoop: Promise<void> = Promise.resolve();
  if (job.totalRate) {
    const rate = job.totalRate;
    const maxInFlight = Math.max(64, job.slots.length * 32);
    openLoop = (async () => {
      const loopStart = performance.now();
      let issued = 0;
      let cursor = 0;
      while (!stopping) {
        await sleep(2);
        const due = Math.floor(((performance.now() - loopStart) * rate) / 1000) - issued;
        for (let k = 0; k < due && !stopping; k++) {
          issued++;
          if (!readySlots.length || inFlight.size >= maxInFlight) {
            recorder.error('scheduler', 'dropped');
            continue;
          }
          if (!takeBudget()) break;
          const slot = readySlots[cursor++ % readySlots.length]!;
          track(slot.step().then(() => void steps++));
        }
      }
    })();
  }

  await Promise.all(ramps);
  await openLoop;
  // Open-loop steps still in flight finish (each is bounded by the request timeout).
  await Promise.all([...inFlight]);
  const elapsedS = (performance.now() - started) / 1000;
  // Setup failures are reported (under "setup ..." names), their latencies are not.
  const setupOps = setupRecorder.serialize().operations;
  for (const [name, data] of Object.entries(setupOps)) {
    if (Object.keys(data.errors).length) recorder.merge({ operations: { [name === 'setup' || name === 'setup-retry' ? name : `setup ${name}`]: { histogram: '', ok: 0, errors: data.errors, expected: {} } } });
  }
  clearTimeout(deadlineTimer);
  clearInterval(checkStop);
  clearInterval(progressTimer);
  await Promise.all(allSlots.map((s) => s.close().catch(() => undefined)));
  report();
  return { recorder: recorder.serialize(), elapsedS, setupS, steps, peakSockets };
}
