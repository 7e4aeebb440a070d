/**
 * What one load-test socket does. Each scenario has a `setup` (run once per
 * slot, e.g. create an account), a `step` (one unit of load, timed into the
 * recorder) and a `close`. Steps of one slot may overlap in open-loop runs, so
 * a step never assumes it is alone on its socket.
 */
import { randomBytes } from 'node:crypto';
import { OsmiumClient, type RpcResult } from '../../src/client/client.js';
import type { MethodName } from '../../src/protocol/codec.js';
import { idFromWire, idToWire } from '../../src/protocol/codec.js';
import type { RequestInit } from '../../src/client/client.js';
import type { ScenarioName } from './args.js';
import type { Recorder } from './stats.js';

export interface SlotEnv {
  url: string;
  peerUrl: string;
  recorder: Recorder;
  timeoutMs: number;
  inviteCode: string | null;
  localAddress: string | undefined;
  /** Tokens handed out once each to `authorize` steps (a reconnect storm); else each slot uses its own. */
  takeToken: (() => string | undefined) | null;
  /** Called with +1 / -1 as sockets open and close (progress line). */
  sockets(delta: number): void;
}

export interface Slot {
  setup(): Promise<void>;
  /** One unit of load; resolves when it is fully done. Never throws. */
  step(): Promise<void>;
  close(): Promise<void>;
  /** Whether steps count as requests (idle heartbeats do not). */
  readonly countsAsRequest: boolean;
}

/** The password every load-test account gets (accounts are throwaway). */
export const LOAD_PASSWORD = 'load-test-password-1';

export class StepError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function uniqueEmail(tag: string): string {
  return `${tag}.${Date.now().toString(36)}.${randomBytes(6).toString('hex')}@load.test`;
}

async function connect(env: SlotEnv, url = env.url): Promise<OsmiumClient> {
  const client = await OsmiumClient.connect(url, { localAddress: env.localAddress, timeoutMs: env.timeoutMs });
  env.sockets(1);
  void client.closed.then(() => env.sockets(-1));
  return client;
}

/** Sends a request with a timeout; resolves with the result or throws StepError. */
async function requestWithin<K extends MethodName>(client: OsmiumClient, method: K, payload: RequestInit<K>, timeoutMs: number): Promise<RpcResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      client.request(method, payload),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StepError('timeout')), timeoutMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof StepError) throw err;
    throw new StepError('closed');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Times one request into the recorder under its method name. Error answers
 * count as errors unless their code is in `expectedCodes`. Returns the result
 * of a success, null otherwise.
 */
async function timed<K extends MethodName>(
  env: SlotEnv,
  client: OsmiumClient,
  method: K,
  payload: RequestInit<K>,
  expectedCodes: readonly number[] = [],
): Promise<RpcResult | null> {
  const started = performance.now();
  try {
    const result = await requestWithin(client, method, payload, env.timeoutMs);
    const ms = performance.now() - started;
    const code = result.error?.error_code;
    if (code === undefined || code === null) {
      env.recorder.ok(method, ms);
      return result;
    }
    if (expectedCodes.includes(code)) env.recorder.expected(method, String(code), ms);
    else env.recorder.error(method, String(code));
    return null;
  } catch (err) {
    env.recorder.error(method, err instanceof StepError ? err.code : 'failed');
    return null;
  }
}

/** Signs up a guest (no password, so no bcrypt) or an email account; returns its token and session id. */
async function signUp(env: SlotEnv, client: OsmiumClient, withEmail: boolean): Promise<{ token: string; email: string | null; sessionId: string }> {
  const email = withEmail ? uniqueEmail('load') : null;
  const result = await timed(env, client, 'auth_sign_up', {
    name: 'Load Test',
    ...(email ? { email, password: LOAD_PASSWORD } : {}),
  });
  const auth = result?.authorization;
  if (!auth?.token) throw new Error('sign-up failed during setup (see the auth_sign_up errors)');
  return { token: auth.token, email, sessionId: idFromWire(auth.session_id) };
}

/** A slot that keeps one socket open and sends one kind of request on it. */
abstract class SocketSlot implements Slot {
  protected client: OsmiumClient | null = null;
  readonly countsAsRequest: boolean = true;
  constructor(protected readonly env: SlotEnv) {}
  async setup(): Promise<void> {
    this.client = await connect(this.env);
  }
  abstract step(): Promise<void>;
  async close(): Promise<void> {
    await this.client?.close();
  }
  /** The socket, reopened (and re-prepared) if the server closed it. */
  protected async socket(): Promise<OsmiumClient> {
    if (!this.client || !this.client.isOpen) {
      await this.client?.close();
      await this.setup();
    }
    return this.client!;
  }
}

class SignUpSlot extends SocketSlot {
  async step() {
    try {
      await timed(this.env, await this.socket(), 'auth_sign_up', { name: 'Load Test', email: uniqueEmail('signup'), password: LOAD_PASSWORD });
    } catch {
      this.env.recorder.error('auth_sign_up', 'connect');
    }
  }
}

class SignInSlot extends SocketSlot {
  private email = '';
  override async setup() {
    await super.setup();
    if (!this.email) this.email = (await signUp(this.env, this.client!, true)).email!;
  }
  async step() {
    try {
      await timed(this.env, await this.socket(), 'auth_sign_in', { email: this.email, password: LOAD_PASSWORD });
    } catch {
      this.env.recorder.error('auth_sign_in', 'connect');
    }
  }
}

/** Reconnect + Authorize: a fresh socket per step, closed after the answer. */
class AuthorizeSlot implements Slot {
  readonly countsAsRequest = true;
  private token = '';
  constructor(private readonly env: SlotEnv) {}
  async setup() {
    if (this.env.takeToken) return;
    const client = await connect(this.env);
    try {
      this.token = (await signUp(this.env, client, false)).token;
    } finally {
      await client.close();
    }
  }
  async step() {
    const token = this.env.takeToken ? this.env.takeToken() : this.token;
    if (!token) {
      this.env.recorder.error('auth_authorize', 'no-token-left');
      return;
    }
    const started = performance.now();
    let client: OsmiumClient;
    try {
      client = await connect(this.env);
    } catch {
      this.env.recorder.error('connect', 'connect');
      return;
    }
    this.env.recorder.ok('connect', performance.now() - started);
    const result = await timed(this.env, client, 'auth_authorize', { token });
    if (result) this.env.recorder.ok('reconnect+authorize', performance.now() - started);
    client.socket.terminate();
  }
  async close() {}
}

class SessionsSlot extends SocketSlot {
  override async setup() {
    await super.setup();
    await signUp(this.env, this.client!, false);
  }
  async step() {
    try {
      await timed(this.env, await this.socket(), 'auth_get_sessions', {});
    } catch {
      this.env.recorder.error('auth_get_sessions', 'connect');
    }
  }
}

const INVITE_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A random 10-character invite code (almost surely unknown: 404 expected). */
export function randomInviteCode(): string {
  const bytes = randomBytes(10);
  let code = '';
  for (const b of bytes) code += INVITE_ALPHABET[b % INVITE_ALPHABET.length];
  return code;
}

class InvitesSlot extends SocketSlot {
  async step() {
    const code = this.env.inviteCode ?? randomInviteCode();
    // Random codes are unknown (404); a gateway without invites answers 501.
    const expected = this.env.inviteCode ? [] : [404, 501];
    try {
      await timed(this.env, await this.socket(), 'auth_lookup_invite', { code }, expected);
    } catch {
      this.env.recorder.error('auth_lookup_invite', 'connect');
    }
  }
}

/** An authorized socket that only sends heartbeats (frames with only `id`), never answered. */
class IdleSlot extends SocketSlot {
  override readonly countsAsRequest = false;
  override async setup() {
    await super.setup();
    const token = this.env.takeToken?.();
    // An idle socket whose Authorize failed is not an authorized idle socket: fail the setup (it is retried, then counted).
    if (token && !(await timed(this.env, this.client!, 'auth_authorize', { token }))) throw new Error('authorize failed during setup');
    if (!token) await signUp(this.env, this.client!, false);
  }
  async step() {
    try {
      (await this.socket()).heartbeat(1);
      this.env.recorder.ok('heartbeat', 0);
    } catch {
      this.env.recorder.error('heartbeat', 'connect');
    }
  }
}

/**
 * Two sessions of one user: socket A (on `url`) revokes the session that
 * socket B (on `peerUrl`) just signed in; timed from the revoke call to B's
 * `Update{session_deleted}`.
 */
class RevokeSlot extends SocketSlot {
  private email = '';
  override async setup() {
    await super.setup();
    if (!this.email) this.email = (await signUp(this.env, this.client!, true)).email!;
  }
  async step() {
    let other: OsmiumClient;
    try {
      other = await connect(this.env, this.env.peerUrl);
    } catch {
      this.env.recorder.error('revoke->push', 'connect');
      return;
    }
    try {
      const signedIn = await timed(this.env, other, 'auth_sign_in', { email: this.email, password: LOAD_PASSWORD });
      const sessionId = signedIn?.authorization?.session_id;
      if (!sessionId) return;
      const pushed = other.nextUpdate(this.env.timeoutMs);
      const started = performance.now();
      const revoked = timed(this.env, await this.socket(), 'auth_revoke_sessions', { session_ids: [idToWire(idFromWire(sessionId))] });
      try {
        const update = await pushed;
        if (update.session_deleted) this.env.recorder.ok('revoke->push', performance.now() - started);
        else this.env.recorder.error('revoke->push', 'other-update');
      } catch {
        this.env.recorder.error('revoke->push', 'timeout');
      }
      await revoked;
    } finally {
      other.socket.terminate();
    }
  }
}

export function createSlot(name: ScenarioName, env: SlotEnv): Slot {
  switch (name) {
    case 'signup':
      return new SignUpSlot(env);
    case 'signin':
      return new SignInSlot(env);
    case 'authorize':
      return new AuthorizeSlot(env);
    case 'sessions':
      return new SessionsSlot(env);
    case 'invites':
      return new InvitesSlot(env);
    case 'idle':
      return new IdleSlot(env);
    case 'revoke':
      return new RevokeSlot(env);
  }
}

/**
 * Creates `count` guest sessions and returns their tokens (for reconnect
 * storms with distinct tokens). Pipelines sign-ups over a few sockets.
 */
export async function mintGuestTokens(url: string, count: number, sockets = 8, inFlight = 16): Promise<string[]> {
  const tokens: string[] = [];
  let issued = 0;
  const worker = async () => {
    const client = await OsmiumClient.connect(url);
    try {
      const lane = async () => {
        while (issued < count) {
          issued++;
          const result = await client.request('auth_sign_up', { name: 'Bench Guest' });
          if (!result.authorization?.token) throw new Error(`guest sign-up failed: ${result.error?.error_code} ${result.error?.error_message}`);
          tokens.push(result.authorization.token);
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
    } finally {
      await client.close();
    }
  };
  await Promise.all(Array.from({ length: sockets }, worker));
  return tokens;
}
