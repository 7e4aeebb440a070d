/**
 * What figures 9 to 11 share: a CPU round (server CPU read from /proc around
 * a load, per unit of work), the internal API's load over HTTP keep-alive
 * (undici, as a backend calls it), and the encoded bodies they send.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Long from 'long';
import protobuf from 'protobufjs/minimal.js';
import { Pool } from 'undici';
import { osmium } from '../../src/gen/osmium.js';
import { percentile } from '../load/stats.js';
import { cpuPerUnit, sampleCpu, type CpuParts } from './cpu.js';
import type { Row } from './figures.js';
import type { Measured } from './processes.js';
import { summarizeCpuProfile, type CpuProfile } from './profile.js';

/** API_KEYS of the bench gateways that serve the internal API. */
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';
/** BACKEND_SECRET of figure 9's gateway and backend. */
export const BENCH_BACKEND_SECRET = 'bench-backend-secret-0123456789';

export interface CpuRound<T> {
  result: T;
  /** µs per unit, per part and in total. */
  cpu: ReturnType<typeof cpuPerUnit>;
  units: number;
}

/**
 * Runs `load` between two readings of the CPU of `roots` (process trees);
 * the second reading is taken `settleMs` after the load, so deferred work
 * (the activity pushed every 2 s) is counted. `units` says how many requests
 * the result stands for.
 */
export async function cpuRound<T>(roots: CpuParts, load: () => Promise<T>, units: (result: T) => number, settleMs = 2_500): Promise<CpuRound<T>> {
  const before = sampleCpu(roots);
  const result = await load();
  await new Promise((r) => setTimeout(r, settleMs));
  const after = sampleCpu(roots);
  const n = Math.max(1, units(result));
  return { result, cpu: cpuPerUnit(before, after, n), units: n };
}

export interface HttpOutcome {
  ok: number;
  errors: number;
  errorsByStatus: Record<string, number>;
  elapsedS: number;
  latencies: number[];
}

export interface HttpCall {
  path: string;
  body: string | Uint8Array;
  contentType: string;
}

/** A keep-alive pool to an HTTP listener of this machine, `connections` wide (one request per connection at a time). */
export function apiPool(port: number, connections: number): Pool {
  return new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1, keepAliveTimeout: 10_000 });
}

/** `count` POSTs, `concurrency` at a time (closed loop); `call(i)` builds the i-th; `ok` judges each answer. */
export async function httpCalls(
  pool: Pool,
  count: number,
  concurrency: number,
  call: (i: number) => HttpCall,
  ok: (status: number, body: Buffer) => boolean = (status) => status === 200,
  apiKey: string | null = BENCH_API_KEY,
): Promise<HttpOutcome> {
  const outcome: HttpOutcome = { ok: 0, errors: 0, errorsByStatus: {}, elapsedS: 0, latencies: [] };
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        const { path, body, contentType } = call(i);
        const sent = performance.now();
        let status = 0;
        let answer: Buffer = Buffer.alloc(0);
        try {
          const response = await pool.request({
            path,
            method: 'POST',
            headers: { 'content-type': contentType, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
            body,
          });
          status = response.statusCode;
          answer = Buffer.from(await response.body.arrayBuffer());
        } catch {
          status = -1;
        }
        outcome.latencies.push(performance.now() - sent);
        if (ok(status, answer)) outcome.ok++;
        else {
          outcome.errors++;
          outcome.errorsByStatus[String(status)] = (outcome.errorsByStatus[String(status)] ?? 0) + 1;
        }
      }
    }),
  );
  outcome.elapsedS = (performance.now() - started) / 1000;
  return outcome;
}

/** One POST; throws unless it answers 200. */
export async function postOnce(pool: Pool, call: HttpCall, apiKey: string | null = BENCH_API_KEY): Promise<Buffer> {
  const response = await pool.request({
    path: call.path,
    method: 'POST',
    headers: { 'content-type': call.contentType, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: call.body,
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200) throw new Error(`POST ${call.path}: ${response.statusCode} ${body.toString('utf8').slice(0, 200)}`);
  return body;
}

/** A chat message's text of a realistic length (a sentence or two). */
const TEXT = 'Are we still on for the review at three? I pushed the fixes from this morning and the build is green again, so it should be quick.';

const fixed64 = (n: bigint) => Long.fromString(n.toString(), true);

/** messages.SendMessage { chat_ref = 1 { chat_id }, message = 2, client_id = 9 } as a client encodes it (~150 bytes). */
export function sendMessagePayload(clientId: bigint): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 1).fixed64(fixed64(283467841537081000n)).ldelim();
  w.uint32((2 << 3) | 2).string(TEXT);
  w.uint32((9 << 3) | 1).fixed64(fixed64(clientId));
  return w.finish();
}

/**
 * An encoded updates.Update { message_created } of a realistic size (~190
 * bytes: a Message with its text) whose first field is `marker` (fixed64,
 * field 9 of UpdateMessageCreated: its client_id), so a receiver can tell
 * which push a frame is.
 */
export function markedUpdate(marker: number): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((9 << 3) | 1).fixed64(fixed64(BigInt(marker)));
  w.uint32((1 << 3) | 2).fork(); // Message { chat_ref = 1, message_id = 2, author_id = 3, message = 4 }
  w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 1).fixed64(fixed64(283467841537081000n)).ldelim();
  w.uint32((2 << 3) | 1).fixed64(fixed64(283467841537090000n + BigInt(marker)));
  w.uint32((3 << 3) | 1).fixed64(fixed64(283467841537081344n));
  w.uint32((4 << 3) | 2).string(TEXT);
  w.ldelim();
  return osmium.client.updates.Update.encode({ message_created: w.finish() }).finish();
}

/** The marker of an update built by markedUpdate, or null for any other. */
export function markerOf(update: osmium.client.updates.Update): number | null {
  const created = update.message_created;
  if (!created || created.length < 9 || created[0] !== ((9 << 3) | 1)) return null;
  return Number(Buffer.from(created.buffer, created.byteOffset, created.byteLength).readBigUInt64LE(1));
}

export const ms = (n: number) => Math.round(n * 100) / 100;
export const p = (values: number[], q: number) => (values.length ? percentile(values, q) : NaN);

/**
 * `--cpu-profile` for figures 9 to 11: the gateway's CPU profile over its
 * measured rounds (through the probe), summarized; inert without a folder.
 */
export class GatewayProfile {
  private file: string | null = null;
  summary: ReturnType<typeof summarizeCpuProfile> | null = null;
  constructor(
    private readonly dir: string | null,
    private readonly name: string,
  ) {}

  get on(): boolean {
    return this.dir !== null;
  }

  async start(gateway: Measured): Promise<void> {
    if (!this.dir) return;
    this.file = join(this.dir, `${this.name}.cpuprofile`);
    await gateway.probe('profile-start');
  }

  async stop(gateway: Measured): Promise<void> {
    if (!this.file) return;
    await gateway.stopProfile(this.file);
    this.summary = summarizeCpuProfile(JSON.parse(readFileSync(this.file, 'utf8')) as CpuProfile, 10);
    this.file = null;
  }

  /** Marks rows measured under the profiler. */
  mark(rows: Row[]): Row[] {
    if (this.on) for (const row of rows) row.note = `PROFILED (CPU includes the profiler's cost); ${row.note ?? ''}`;
    return rows;
  }
}
