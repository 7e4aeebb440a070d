/**
 * The soak's clients: `sockets` authorized sockets held open (guests minted
 * first, plus email accounts), heartbeating as real clients do (a frame with
 * only `id`, never answered), and the churn run against them at a steady
 * rate:
 * - reconnect with resume: close the socket, open a new one, Initialize,
 *   Authorize with the same token (the same session must come back);
 * - guest sign-out: auth.revokeSessions of its own session on its socket,
 *   which must then be closed with 4001; the slot is replaced by a new guest
 *   sign-up on a new socket;
 * - email sign-in: a new socket signs in to the slot's account and revokes
 *   the session the old socket held, which must be closed with 4001.
 * Every answer is checked; what went wrong is counted by operation and cause.
 */
import { randomBytes } from 'node:crypto';
import { OsmiumClient, type RpcResult, type RequestInit } from '../../src/client/client.js';
import type { MethodName } from '../../src/protocol/codec.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';

/** The password of every soak account (throwaway). */
const PASSWORD = 'soak-test-password-1';
const DEVICE = { client_id: 7, device_type: 'soak', device_version: '1', app_version: '1.0' };

type WireId = NonNullable<NonNullable<RpcResult['authorization']>['session_id']>;

interface Slot {
  index: number;
  email: string | null;
  token: string;
  sessionId: WireId;
  client: OsmiumClient | null;
  /** An operation of the churn owns the slot: its closes are expected. */
  busy: boolean;
  /** Its session was revoked and no new one replaced it yet: it recovers by a new sign-up or sign-in, never by resume. */
  revoked: boolean;
}

export interface FleetCounters {
  reconnects: number;
  guestSignOuts: number;
  guestSignUps: number;
  signIns: number;
  /** Sessions revoked and answered as done (sign-outs and sign-ins' revocations). */
  revocations: number;
  heartbeats: number;
  /** Sockets the gateway closed that no churn operation asked for, reopened by resume. */
  dropped: number;
  openSockets: number;
  inFlight: number;
}

export interface FleetOptions {
  url: string;
  sockets: number;
  accountShare: number;
  heartbeatS: number;
  timeoutMs: number;
  log(line: string): void;
}

class OpError extends Error {}

const LOOPBACK_SOURCES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

export class Fleet {
  private slots: Slot[] = [];
  private stopped = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private churnTimer: NodeJS.Timeout | undefined;
  private tick = 0;
  private connects = 0;
  readonly counters: FleetCounters = { reconnects: 0, guestSignOuts: 0, guestSignUps: 0, signIns: 0, revocations: 0, heartbeats: 0, dropped: 0, openSockets: 0, inFlight: 0 };
  /** Failures by `operation: cause` (timeouts, refused answers, wrong close codes). */
  readonly errors: Record<string, number> = {};
  /** Operations that ended as designed, by name. */
  readonly done: Record<string, number> = {};
  private readonly operations = new Set<Promise<void>>();

  constructor(private readonly options: FleetOptions) {}

  private fail(op: string, cause: string): void {
    const key = `${op}: ${cause}`;
    this.errors[key] = (this.errors[key] ?? 0) + 1;
  }

  private async connect(): Promise<OsmiumClient> {
    // Spread over a few loopback addresses: no shortage of ephemeral ports.
    const localAddress = LOOPBACK_SOURCES[this.connects++ % LOOPBACK_SOURCES.length];
    const client = await OsmiumClient.connect(this.options.url, { localAddress, timeoutMs: this.options.timeoutMs, onUpdate: () => {} });
    this.counters.openSockets++;
    void client.closed.then(() => this.counters.openSockets--);
    return client;
  }

  private async request<K extends MethodName>(client: OsmiumClient, method: K, payload: RequestInit<K>): Promise<RpcResult> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        client.request(method, payload),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new OpError(`${method} timeout`)), this.options.timeoutMs))),
      ]);
    } catch (err) {
      throw err instanceof OpError ? err : new OpError(`${method} closed`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The result's authorization, or an OpError naming the refusal. */
  private async authorization<K extends MethodName>(client: OsmiumClient, method: K, payload: RequestInit<K>) {
    const result = await this.request(client, method, payload);
    const auth = result.authorization;
    if (!auth?.token || !auth.session_id) throw new OpError(`${method} ${result.error?.error_code ?? 'no authorization'}`);
    return auth as { token: string; session_id: WireId };
  }

  private async initialize(client: OsmiumClient): Promise<void> {
    const result = await this.request(client, 'core_initialize', DEVICE);
    if (!result.initialized) throw new OpError(`core_initialize ${result.error?.error_code ?? 'no answer'}`);
  }

  /** Resolves with the close code, or rejects when the socket stays open past the timeout. */
  private async closedWithin(client: OsmiumClient): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        client.closed.then((c) => c.code),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new OpError('not closed')), this.options.timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Watches a held socket: a close no operation asked for is counted and the slot resumes. */
  private hold(slot: Slot, client: OsmiumClient): void {
    slot.client = client;
    void client.closed.then((event) => {
      if (slot.client !== client || slot.busy || this.stopped) return;
      this.counters.dropped++;
      this.fail('held socket', `closed by the gateway with ${event.code}`);
      this.run('recover', slot);
    });
  }

  /** Opens the fleet: guest tokens minted first (pipelined), email accounts signed up; every socket Initialized and Authorized. */
  async open(guestTokens: string[], openPerSecond = 500): Promise<void> {
    const accounts = this.options.sockets - guestTokens.length;
    const started = performance.now();
    let next = 0;
    const openOne = async (index: number) => {
      // Paced: a burst of thousands of handshakes on a shared machine times out.
      const due = started + (index / openPerSecond) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      for (let attempt = 1; ; attempt++) {
        try {
          const client = await this.connect();
          await this.initialize(client);
          let slot: Slot;
          if (index < guestTokens.length) {
            const token = guestTokens[index]!;
            const auth = await this.authorization(client, 'auth_authorize', { token });
            slot = { index, email: null, token, sessionId: auth.session_id, client: null, busy: false, revoked: false };
          } else {
            const email = `soak.${index}.${randomBytes(4).toString('hex')}@soak.test`;
            const auth = await this.authorization(client, 'auth_sign_up', { name: 'Soak Account', email, password: PASSWORD });
            slot = { index, email, token: auth.token, sessionId: auth.session_id, client: null, busy: false, revoked: false };
          }
          this.slots[index] = slot;
          this.hold(slot, client);
          return;
        } catch (err) {
          if (attempt >= 3) throw new Error(`socket ${index} could not be opened: ${(err as Error).message}`);
        }
      }
    };
    const lane = async () => {
      while (next < this.options.sockets) await openOne(next++);
    };
    await Promise.all(Array.from({ length: 48 }, lane));
    this.options.log(`  ${this.slots.length} sockets authorized (${guestTokens.length} guests, ${accounts} email accounts) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    this.startHeartbeats();
  }

  /** Every socket heartbeats once per heartbeatS, spread evenly over that period. */
  private startHeartbeats(): void {
    const ticksPerPeriod = Math.max(1, Math.round(this.options.heartbeatS * 4));
    this.heartbeatTimer = setInterval(() => {
      const phase = this.tick++ % ticksPerPeriod;
      for (let i = phase; i < this.slots.length; i += ticksPerPeriod) {
        const client = this.slots[i]!.client;
        if (client?.isOpen) {
          client.heartbeat(1);
          this.counters.heartbeats++;
        }
      }
    }, 250);
  }

  /** Runs the churn at `rate` operations per second until stop(). */
  startChurn(rate: number): void {
    const started = performance.now();
    let issued = 0;
    const accountsFrom = this.slots.findIndex((s) => s.email !== null);
    this.churnTimer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      for (; issued < due; issued++) {
        const roll = Math.random();
        const kind = roll < 0.6 ? 'reconnect' : roll < 0.8 ? 'guest sign-out' : 'email sign-in';
        const pool = kind === 'email sign-in' ? [accountsFrom, this.slots.length] : kind === 'guest sign-out' ? [0, accountsFrom < 0 ? this.slots.length : accountsFrom] : [0, this.slots.length];
        const slot = this.pick(pool[0]!, pool[1]!);
        if (!slot) {
          this.fail(kind, 'no idle slot');
          continue;
        }
        this.run(kind, slot);
      }
    }, 50);
  }

  private pick(from: number, to: number): Slot | null {
    if (from < 0 || to <= from) return null;
    for (let tries = 0; tries < 20; tries++) {
      const slot = this.slots[from + Math.floor(Math.random() * (to - from))]!;
      if (!slot.busy) return slot;
    }
    return null;
  }

  private run(kind: 'reconnect' | 'guest sign-out' | 'email sign-in' | 'recover', slot: Slot): void {
    slot.busy = true;
    this.counters.inFlight++;
    const work = {
      reconnect: () => (slot.revoked ? this.replace(slot) : this.reconnect(slot)),
      'guest sign-out': () => (slot.revoked ? this.replace(slot) : this.guestSignOut(slot)),
      'email sign-in': () => this.emailSignIn(slot),
      recover: () => (slot.revoked ? this.replace(slot) : this.reconnect(slot)),
    }[kind];
    const op = work()
      .then(
        () => {
          this.done[kind] = (this.done[kind] ?? 0) + 1;
        },
        (err: unknown) => {
          this.fail(kind, err instanceof OpError ? err.message : `unexpected: ${(err as Error).message}`);
          // The slot keeps whatever socket it has; a dead one is resumed on the next pick.
        },
      )
      .finally(() => {
        slot.busy = false;
        this.counters.inFlight--;
        this.operations.delete(op);
        // A slot left without a socket resumes a moment later (not at once: the gateway may be struggling).
        if (!this.stopped && !slot.client?.isOpen) setTimeout(() => !this.stopped && !slot.busy && !slot.client?.isOpen && this.run('recover', slot), 1000);
      });
    this.operations.add(op);
  }

  private async reconnect(slot: Slot): Promise<void> {
    await slot.client?.close(1000);
    if (this.stopped) return;
    const client = await this.connect();
    try {
      await this.initialize(client);
      const auth = await this.authorization(client, 'auth_authorize', { token: slot.token });
      if (auth.session_id.toString() !== slot.sessionId.toString()) throw new OpError('auth_authorize resumed another session');
      this.counters.reconnects++;
      this.hold(slot, client);
    } catch (err) {
      client.socket.terminate();
      throw err;
    }
  }

  private async guestSignOut(slot: Slot): Promise<void> {
    const old = slot.client;
    if (!old?.isOpen) return this.reconnect(slot);
    const result = await this.request(old, 'auth_revoke_sessions', { session_ids: [slot.sessionId] });
    if (result.error) throw new OpError(`auth_revoke_sessions ${result.error.error_code}`);
    slot.revoked = true;
    this.counters.revocations++;
    this.counters.guestSignOuts++;
    const code = await this.closedWithin(old).catch((err: Error) => {
      old.socket.terminate();
      throw new OpError(`revoked socket ${err.message}`);
    });
    if (code !== CloseCode.SESSION_REVOKED) throw new OpError(`revoked socket closed with ${code}, not 4001`);
    if (this.stopped) return;
    await this.replace(slot);
  }

  /** A slot whose session was revoked gets a new one: a guest signs up anew, an account signs in. */
  private async replace(slot: Slot): Promise<void> {
    if (slot.email !== null) return this.emailSignIn(slot);
    const client = await this.connect();
    try {
      await this.initialize(client);
      const auth = await this.authorization(client, 'auth_sign_up', { name: 'Soak Guest' });
      this.counters.guestSignUps++;
      slot.token = auth.token;
      slot.sessionId = auth.session_id;
      slot.revoked = false;
      this.hold(slot, client);
    } catch (err) {
      client.socket.terminate();
      throw err;
    }
  }

  private async emailSignIn(slot: Slot): Promise<void> {
    // Only an open socket can be asked to close: a dropped one awaits its recovery.
    const old = slot.client?.isOpen ? slot.client : null;
    const client = await this.connect();
    try {
      await this.initialize(client);
      const auth = await this.authorization(client, 'auth_sign_in', { email: slot.email!, password: PASSWORD });
      this.counters.signIns++;
      const previous = slot.sessionId;
      const previousRevoked = slot.revoked;
      slot.token = auth.token;
      slot.sessionId = auth.session_id;
      slot.revoked = false;
      // From here the new socket is the slot's; the old one must be closed by the revocation.
      this.hold(slot, client);
      // A slot recovering from an earlier revocation has no old session left to end.
      if (previousRevoked) {
        old?.socket.terminate();
        return;
      }
      const result = await this.request(client, 'auth_revoke_sessions', { session_ids: [previous] });
      if (result.error) throw new OpError(`auth_revoke_sessions ${result.error.error_code}`);
      this.counters.revocations++;
    } catch (err) {
      // Before the new socket took over, the old one still holds the slot's session: keep it.
      if (slot.client !== client) client.socket.terminate();
      else old?.socket.terminate();
      throw err;
    }
    if (!old) return;
    const code = await this.closedWithin(old).catch((err: Error) => {
      old.socket.terminate();
      throw new OpError(`revoked socket ${err.message}`);
    });
    if (code !== CloseCode.SESSION_REVOKED) throw new OpError(`revoked socket closed with ${code}, not 4001`);
  }

  /** Stops the churn and heartbeats, waits for operations in flight, closes every socket. */
  async stop(): Promise<void> {
    clearInterval(this.churnTimer);
    clearInterval(this.heartbeatTimer);
    this.stopped = true;
    await Promise.allSettled([...this.operations]);
    for (const slot of this.slots) slot.client?.socket.terminate();
  }
}
