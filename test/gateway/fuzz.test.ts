/**
 * Fuzzing the frame decoder and every method: 20 000 random and mutated
 * frames (seeded, so a failure reproduces) across many sockets. Every frame
 * gets what the protocol promises (an answer, a close, or silence for a
 * heartbeat), no request hangs, nothing is a 500, a well-behaved client is
 * served throughout, and the gateway still serves afterwards. (Heap growth
 * under fuzzing is measured by `npm run bench`, not asserted here.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import Long from 'long';
import { WebSocket } from 'ws';
import { OsmiumClient } from '../../src/client/client.js';
import { osmium } from '../../src/gen/osmium.js';
import { person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { protoRoot } from '../helpers/protoRoot.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 20_000);
const SOCKETS = 8;
/** A well-behaved client's round after every this many frames. */
const GOOD_EVERY = 100;
const HANG_MS = 5_000;

const ClientMessage = osmium.client.core.ClientMessage;
const methodFields = protoRoot.lookupType('osmium.client.core.ClientMessage').oneofs.message!.fieldsArray;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A length-delimited field with raw contents. */
function field(num: number, body: Uint8Array | number[]): Uint8Array {
  return new Uint8Array([...varint((num << 3) | 2), ...varint(body.length), ...body]);
}

/** `depth` messages nested in field 2, around an innermost `0a 00`; built outside-in in one buffer. */
function nestedMessages(depth: number): Uint8Array {
  const headers: number[][] = [];
  let length = 2;
  for (let i = 0; i < depth; i++) {
    const header = [...varint((2 << 3) | 2), ...varint(length)];
    headers.push(header);
    length += header.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (let i = depth - 1; i >= 0; i--) {
    out.set(headers[i]!, at);
    at += headers[i]!.length;
  }
  out.set([0x0a, 0x00], at);
  return out;
}

const validFrames: Uint8Array[] = [
  ClientMessage.encode({ id: 1, auth_sign_in: { email: 'a@b.co', password: 'x'.repeat(20) } }).finish(),
  ClientMessage.encode({ id: 2, auth_sign_up: { email: 'c@d.co', password: 'y'.repeat(12), name: 'Fuzz' } }).finish(),
  ClientMessage.encode({ id: 3, auth_authorize: { token: 'a.b.c' } }).finish(),
  ClientMessage.encode({ id: 4, core_initialize: { client_id: 1, device_type: 'fuzz' } }).finish(),
  ClientMessage.encode({ id: 5, auth_get_sessions: {} }).finish(),
  ClientMessage.encode({ id: 6, auth_revoke_sessions: { session_ids: [Long.fromNumber(1, true), Long.fromNumber(2, true)] } }).finish(),
];

const frame: fc.Arbitrary<Uint8Array> = fc.oneof(
  // Pure noise.
  fc.uint8Array({ maxLength: 300 }),
  // A valid frame with flipped bytes.
  fc.tuple(fc.constantFrom(...validFrames), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })).map(([f, flips]) => {
    const copy = Uint8Array.from(f);
    for (const [at, mask] of flips) copy[at % copy.length]! ^= mask;
    return copy;
  }),
  // A valid frame cut short.
  fc.tuple(fc.constantFrom(...validFrames), fc.nat()).map(([f, n]) => f.slice(0, n % f.length)),
  // Oversized varints.
  fc.integer({ min: 11, max: 40 }).map((n) => new Uint8Array([0x08, ...Array(n).fill(0xff), 0x01])),
  // Wrong wire types for known fields (varint / fixed32 / group where a message is expected).
  fc.tuple(fc.integer({ min: 1, max: 96 }), fc.constantFrom(0, 1, 3, 4, 5, 6, 7), fc.uint8Array({ maxLength: 16 })).map(
    ([num, wire, tail]) => new Uint8Array([...varint((num << 3) | wire), ...tail]),
  ),
  // Deep nesting of messages and of groups.
  fc.integer({ min: 50, max: 1000 }).map(nestedMessages),
  fc.integer({ min: 100, max: 20_000 }).map((depth) => new Uint8Array(2 * depth).fill(0x13, 0, depth).fill(0x14, depth)),
  // Huge repeated fields: thousands of session ids.
  fc.integer({ min: 101, max: 6000 }).map((n) =>
    ClientMessage.encode({ id: 9, auth_revoke_sessions: { session_ids: Array.from({ length: n }, (_, i) => Long.fromNumber(i + 1, true)) } }).finish(),
  ),
  // Every method, with a garbage payload.
  fc.tuple(fc.constantFrom(...methodFields), fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 0xffffffff })).map(([f, payload, id]) =>
    new Uint8Array([0x08, ...varint(id % 0x7fffffff), ...field(f.id, payload)]),
  ),
  // Every method with a well-formed but hostile payload (long strings, empty messages).
  fc.tuple(fc.constantFrom(...methodFields), fc.string({ maxLength: 3000 })).map(([f, text]) =>
    new Uint8Array([0x08, 0x07, ...field(f.id, [...field(1, Buffer.from(text)), ...field(2, Buffer.from(text)), ...field(3, Buffer.from(text))])]),
  ),
);

type Expectation = { kind: 'close' } | { kind: 'silence' } | { kind: 'result'; reqId: number };

const MAX_FRAME_BYTES = 65_536;

function expectationFor(bytes: Uint8Array): Expectation {
  if (bytes.length > MAX_FRAME_BYTES) return { kind: 'close' };
  try {
    const m = ClientMessage.decode(bytes);
    return m.message ? { kind: 'result', reqId: m.id >>> 0 } : { kind: 'silence' };
  } catch {
    return { kind: 'close' };
  }
}

class FuzzSocket {
  private ws: WebSocket | undefined;
  private waiting: ((what: string) => void) | null = null;
  counts = { sent: 0, results: 0, closes: 0, silent: 0 };
  /** Result codes seen (0 = success). */
  readonly codes = new Map<number, number>();

  constructor(private readonly url: string) {}

  async open(): Promise<void> {
    const ws = new WebSocket(this.url, { perMessageDeflate: false });
    this.ws = ws;
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      const message = osmium.client.core.ServerMessage.decode(data);
      const code = message.result?.error?.error_code ?? 0;
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
      this.waiting?.(`result:${message.result?.req_id ?? 'update'}`);
    });
    ws.on('close', () => this.waiting?.('close'));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  /** Sends one frame and waits for what the protocol promises for it. */
  async send(bytes: Uint8Array): Promise<void> {
    if (this.ws?.readyState !== WebSocket.OPEN) await this.open();
    const ws = this.ws!;
    const expected = expectationFor(bytes);
    this.counts.sent++;
    if (expected.kind === 'silence') {
      this.counts.silent++;
      ws.send(bytes);
      return;
    }
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('hang'), HANG_MS);
      this.waiting = (what) => {
        clearTimeout(timer);
        this.waiting = null;
        resolve(what);
      };
      ws.send(bytes);
    });
    if (outcome === 'hang') throw new Error(`no answer within ${HANG_MS} ms to frame ${Buffer.from(bytes).toString('hex').slice(0, 200)}`);
    if (expected.kind === 'close') {
      assert.equal(outcome, 'close', `undecodable frame must close, got ${outcome}`);
      this.counts.closes++;
    } else {
      assert.equal(outcome, `result:${expected.reqId}`);
      this.counts.results++;
    }
  }

  close(): void {
    this.ws?.close();
  }
}

describe('fuzzing', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ SOCKET_RATE: '100000', SOCKET_BURST: '100000', LOG_LEVEL: 'warn' });
  });
  after(() => gw.close());

  it(`survives ${FRAMES} random and mutated frames (seed ${SEED})`, async () => {
    const frames = fc.sample(frame, { seed: SEED, numRuns: FRAMES });

    // A well-behaved client, served throughout.
    const email = uniqueEmail('fuzz');
    const good = await gw.connect();
    const { authorization } = await person(gw, { client: good, email, password: 'quokka fuzz password', name: 'Good' });

    // A good client's round (reconnect, Authorize, GetSessions) every GOOD_EVERY
    // frames, spread over the whole run while the other sockets keep fuzzing.
    let goodCalls = 0;
    const goodRound = async () => {
      const other = await OsmiumClient.connect(gw.url);
      await other.call('auth_authorize', { token: authorization!.token! });
      await other.call('auth_get_sessions', {});
      await other.close();
      goodCalls++;
    };

    const sockets = Array.from({ length: SOCKETS }, () => new FuzzSocket(gw.url));
    await Promise.all(
      sockets.map(async (socket, s) => {
        for (let i = s; i < frames.length; i += SOCKETS) {
          await socket.send(frames[i]!);
          if (i % GOOD_EVERY === 0) await goodRound();
        }
      }),
    );
    for (const s of sockets) s.close();

    const totals = sockets.reduce(
      (acc, s) => ({ sent: acc.sent + s.counts.sent, results: acc.results + s.counts.results, closes: acc.closes + s.counts.closes, silent: acc.silent + s.counts.silent }),
      { sent: 0, results: 0, closes: 0, silent: 0 },
    );
    assert.equal(totals.sent, FRAMES);
    const codes = new Map<number, number>();
    for (const socket of sockets) for (const [code, n] of socket.codes) codes.set(code, (codes.get(code) ?? 0) + n);
    console.log(
      `fuzz: ${totals.sent} frames (${totals.results} answered, ${totals.closes} closed the socket, ${totals.silent} heartbeats), ` +
        `${goodCalls} good-client rounds, result codes ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    assert.equal(codes.get(500) ?? 0, 0, `internal errors: ${JSON.stringify(gw.logs.filter((l) => Number(l.level) >= 50).slice(0, 3))}`);
    assert.equal(goodCalls, Math.ceil(FRAMES / GOOD_EVERY), 'the good client was served every time');
    assert.ok((await good.request('core_initialize', {})).initialized, 'the first socket is still served');
    await eventually(() => gw.app.gateway.openConnections <= 1, { what: 'the fuzz sockets to be gone (only the first socket left)' });
  });
});
