/**
 * Forwarding to the chat backend (issue 26): every method the method table
 * does not serve goes, by its package (`messages_send_message` → `messages`),
 * to the backend route BACKEND_ROUTES / BACKEND_URL names, as one
 * `BackendRequest` (proto/osmium/gateway/v1/backend.proto) over HTTP/1.1
 * keep-alive (undici). Only the envelope was decoded: the payload goes as the
 * client sent it, with the caller filled in from the socket's verified
 * session. The answer is spliced into the RPCResult without decoding it.
 *
 * Each route has its own connection pool, bound on calls in flight
 * (BACKEND_MAX_IN_FLIGHT, beyond it 503 at once), timeout
 * (BACKEND_TIMEOUT_MS, 504) and circuit breaker (cockatiel: five failures in
 * a row open it; 503 at once while open; one probe call after half a second).
 * Nothing is ever retried. The failure table is the README's beside
 * backend.proto.
 *
 * The same routes carry the group hooks (GroupMembershipQuery, GroupJoin)
 * for the route of the `chats` package: `groupHooks()` is what
 * services/groupDirectory.ts asks when the backend owns groups. A hook goes
 * through the same in-flight bound, timeout, breaker and metrics as a
 * forwarded call; its failures reach the client as the same 503/504/502.
 */
import { randomFillSync } from 'node:crypto';
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { Pool } from 'undici';
import type { BackendRoute } from '../config.js';
import { idFromWire, idToWire, type ClientMessage, type MethodName, type RpcResultInit, CloseInstead, EncodedMessage, encodeSplicedResult, isWellFormedProtobuf, rpcResult } from '../protocol/codec.js';
import { ErrorCode, RpcError, type ErrorCodeValue } from '../protocol/errorCodes.js';
import { osmium as backendProto } from '../gen/backend.js';
import { osmium as clientProto } from '../gen/osmium.js';
import { CLIENT_METHOD_FIELDS, RPC_RESULT_FIELDS } from '../gen/fields.js';
import type { Logger } from '../logger.js';
import type { ConnectionState } from '../methods/types.js';
import type { GroupHooks, GroupJoinRequest, GroupPreview, HookMembership, OnBehalfOf } from '../services/groupDirectory.js';
import type { Forwarder } from './dispatcher.js';

const v1 = backendProto.gateway.v1;

/** Largest backend answer read; more is a bad answer (502). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
/** Failures in a row that open a route's circuit. */
const BREAKER_FAILURES = 5;
/** How long an open circuit refuses before it lets one probe call through. */
const BREAKER_HALF_OPEN_MS = 500;
/** An idle connection is dropped after this (backends keep theirs open at least 5 s: README beside backend.proto). */
const KEEP_ALIVE_MS = 4_000;
/** Longest RPCError message relayed (bytes of UTF-8). */
const MAX_ERROR_MESSAGE_BYTES = 1024;
/** Longest close reason (WebSocket limit). */
const MAX_REASON_BYTES = 123;

const RESULT_FIELDS = new Set<number>(Object.values(RPC_RESULT_FIELDS).filter((f) => f !== RPC_RESULT_FIELDS.error));

/**
 * Random bytes for trace and span ids, drawn from a pool refilled 4 KiB at a
 * time: two `randomBytes` calls per forwarded request cost ~12 µs of CPU here
 * (the bench's figure 9), the pool well under 1 µs.
 */
const RANDOM_POOL_BYTES = 4096;
const randomPool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
let randomAt = RANDOM_POOL_BYTES;

/** `bytes` random bytes as lowercase hex. */
function randomHex(bytes: number): string {
  if (randomAt + bytes > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  const hex = randomPool.toString('hex', randomAt, randomAt + bytes);
  randomAt += bytes;
  return hex;
}

/** What forwarding reports (metrics.ts implements it). */
export interface BackendObserver {
  backendCall(route: string, code: number, seconds: number): void;
  backendInFlight(route: string, inFlight: number): void;
  backendCircuit(route: string, state: 'closed' | 'open' | 'half_open'): void;
}

export interface BackendRoutesOptions {
  routes: readonly BackendRoute[];
  secret: string;
  timeoutMs: number;
  maxInFlight: number;
  log: Logger;
  observer?: BackendObserver;
}

/** A failure of the hop: what the client gets, and whether it counts against the route's health. */
class HopFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly counts: boolean,
    readonly logged?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The outcome of one forwarded call. */
type Outcome = { outcome: EncodedMessage | CloseInstead | RpcResultInit; code: number };

class Route {
  readonly name: string;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly breaker: CircuitBreakerPolicy;
  private inFlight = 0;

  constructor(
    route: BackendRoute,
    private readonly options: BackendRoutesOptions,
  ) {
    const url = new URL(route.url);
    this.name = route.packages.join(',');
    this.path = `${url.pathname.replace(/\/$/, '')}/osmium/v1/call`;
    this.pool = new Pool(url.origin, {
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      keepAliveTimeoutThreshold: 2_000,
      connect: { timeout: Math.min(options.timeoutMs, 10_000) },
      pipelining: 1,
    });
    this.breaker = circuitBreaker(handleWhen((err) => err instanceof HopFailure && err.counts), {
      halfOpenAfter: BREAKER_HALF_OPEN_MS,
      breaker: new ConsecutiveBreaker(BREAKER_FAILURES),
    });
    this.breaker.onStateChange((state) => {
      const text = state === CircuitState.Open ? 'open' : state === CircuitState.HalfOpen ? 'half_open' : 'closed';
      if (text === 'open') options.log.warn({ route: this.name }, 'backend route circuit open: calls answer 503 until a probe succeeds');
      else if (text === 'closed') options.log.info({ route: this.name }, 'backend route circuit closed');
      options.observer?.backendCircuit(this.name, text);
    });
    options.observer?.backendCircuit(this.name, 'closed');
  }

  async forward(method: MethodName, message: ClientMessage, conn: ConnectionState): Promise<Outcome> {
    const reqId = message.id >>> 0;
    const traceId = randomHex(16);
    const settled = await this.guarded(method, traceId, async () => {
      const session = conn.session!;
      const payload = (message as unknown as Record<string, unknown>)[method];
      const body = v1.BackendRequest.encode({
        trace_id: traceId,
        caller: {
          user_id: idToWire(session.userId),
          session_id: idToWire(session.sessionId),
          bot: session.bot,
          client_id: conn.device.clientId,
          device_type: conn.device.deviceType,
          device_version: conn.device.deviceVersion,
          app_version: conn.device.appVersion,
          ip: conn.ip,
        },
        forward: {
          method_field: CLIENT_METHOD_FIELDS[method as keyof typeof CLIENT_METHOD_FIELDS],
          method_name: method,
          // The member's bytes as they arrived: the gateway's codec declares unserved methods as bytes.
          payload: payload instanceof Uint8Array ? payload : new Uint8Array(0),
          req_id: reqId,
        },
      }).finish();
      return this.outcome(reqId, traceId, await this.post(body, method, traceId));
    }, (outcome) => outcome.code);
    return 'failed' in settled ? errorOutcome(reqId, traceId, settled.failed.code, settled.failed.message) : settled.ok;
  }

  /**
   * One hook call on behalf of `caller` (when signed in). Answers the hook's
   * own member; throws RpcError with the backend's error as given, or the
   * hop's failure (503, 504, 502) as a forwarded call would get it.
   */
  async hook<K extends 'group_membership' | 'group_joined'>(
    request: { group_membership: backendProto.gateway.v1.IGroupMembershipQuery } | { group_join: backendProto.gateway.v1.IGroupJoin },
    expected: K,
    caller: OnBehalfOf | undefined,
  ): Promise<NonNullable<backendProto.gateway.v1.BackendResponse[K]>> {
    const label = expected === 'group_membership' ? 'hook:group_membership' : 'hook:group_join';
    const traceId = randomHex(16);
    const settled = await this.guarded(label, traceId, async () => {
      const body = v1.BackendRequest.encode({ trace_id: traceId, ...(caller ? { caller: callerToWire(caller) } : {}), ...request }).finish();
      return this.hookOutcome(expected, await this.post(body, label, traceId));
    }, (outcome) => ('error' in outcome ? outcome.error.code : 0));
    if ('failed' in settled) throw new RpcError(settled.failed.code as ErrorCodeValue, settled.failed.message);
    if ('error' in settled.ok) throw new RpcError(settled.ok.error.code as ErrorCodeValue, settled.ok.error.message);
    return settled.ok.answer as NonNullable<backendProto.gateway.v1.BackendResponse[K]>;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /**
   * Runs one call of this route under its bound on calls in flight (beyond:
   * 503 at once, the backend not called) and its circuit breaker, and
   * reports it: calls and errors by `codeOf`, latency, calls in flight.
   * Failures of the hop come back as `failed`, logged as the README says.
   */
  private async guarded<T>(
    label: string,
    traceId: string,
    attempt: () => Promise<T>,
    codeOf: (ok: T) => number,
  ): Promise<{ ok: T } | { failed: { code: number; message: string } }> {
    const started = process.hrtime.bigint();
    const { log, observer, maxInFlight } = this.options;
    let settled: { ok: T } | { failed: { code: number; message: string } };
    if (this.inFlight >= maxInFlight) {
      settled = { failed: { code: ErrorCode.UNAVAILABLE, message: `backend busy: more than ${maxInFlight} calls in flight; retry later` } };
    } else {
      this.inFlight++;
      observer?.backendInFlight(this.name, this.inFlight);
      try {
        settled = { ok: await this.breaker.execute(attempt) };
      } catch (err) {
        if (err instanceof BrokenCircuitError) {
          settled = { failed: { code: ErrorCode.UNAVAILABLE, message: 'backend unavailable; retry later' } };
        } else if (err instanceof HopFailure) {
          if (err.logged) log.warn({ route: this.name, method: label, traceId, ...err.logged }, 'bad answer from backend');
          else if (err.counts) log.info({ route: this.name, method: label, traceId, code: err.code, reason: err.message }, 'backend call failed');
          settled = { failed: { code: err.code, message: err.message } };
        } else {
          log.error({ err, route: this.name, method: label, traceId }, 'backend call failed');
          settled = { failed: { code: ErrorCode.INTERNAL, message: `internal error (trace ${traceId})` } };
        }
      } finally {
        this.inFlight--;
        observer?.backendInFlight(this.name, this.inFlight);
      }
    }
    observer?.backendCall(this.name, 'ok' in settled ? codeOf(settled.ok) : settled.failed.code, Number(process.hrtime.bigint() - started) / 1e9);
    return settled;
  }

  /** One HTTP call: the answer's body on 200; throws HopFailure for every failure the table in the README lists. */
  private async post(body: Uint8Array, label: string, traceId: string): Promise<Buffer> {
    const { timeoutMs } = this.options;
    let status: number;
    let answer: Buffer;
    try {
      const response = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: {
          'content-type': 'application/x-protobuf',
          authorization: `Bearer ${this.options.secret}`,
          traceparent: `00-${traceId}-${randomHex(8)}-01`,
          'x-osmium-method': label,
          'x-osmium-timeout-ms': String(timeoutMs),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = response.statusCode;
      answer = await readBounded(response.body);
    } catch (err) {
      throw hopError(err);
    }
    if (status === 503 || status === 429) throw new HopFailure(ErrorCode.UNAVAILABLE, 'backend unavailable; retry later', true);
    if (status === 504) throw new HopFailure(ErrorCode.GATEWAY_TIMEOUT, 'backend timed out', true);
    if (status !== 200) throw new HopFailure(ErrorCode.BAD_GATEWAY, 'bad answer from backend', true, { status });
    return answer;
  }

  /** A hook's answer: its own member, or a definite error (a retryable one is a failure of the route). */
  private hookOutcome(expected: 'group_membership' | 'group_joined', answer: Buffer): { answer: unknown } | { error: { code: number; message: string } } {
    const bad = (why: string) => new HopFailure(ErrorCode.BAD_GATEWAY, 'bad answer from backend', true, { why, bytes: answer.length });
    const response = decodeResponse(answer, bad);
    if (response.outcome === 'error') {
      const code = response.error!.code ?? 0;
      if (code < 400 || code > 599) throw bad(`error code ${code} is outside 400-599`);
      const text = cutUtf8(response.error!.message ?? '', MAX_ERROR_MESSAGE_BYTES);
      if (response.error!.retryable) throw new HopFailure(code, text, true);
      return { error: { code, message: text } };
    }
    if (response.outcome !== expected) throw bad(`outcome ${response.outcome ?? 'none'} is not an answer to hook ${expected === 'group_membership' ? 'group_membership' : 'group_join'}`);
    const group = (response[expected] as { group?: Uint8Array | null }).group;
    // The group is decoded here, where a bad one is logged and counted against the route, not in the invite rules.
    if (group && group.length > 0) {
      try {
        if (!isWellFormedProtobuf(group)) throw new Error('not protobuf');
        clientProto.client.types.Group.decode(group);
      } catch {
        throw bad(`${expected}.group is not an osmium.client.types.Group`);
      }
    }
    return { answer: response[expected] };
  }

  private outcome(reqId: number, traceId: string, answer: Buffer): Outcome {
    const bad = (why: string) => new HopFailure(ErrorCode.BAD_GATEWAY, 'bad answer from backend', true, { why, bytes: answer.length });
    const response = decodeResponse(answer, bad);
    switch (response.outcome) {
      case 'result': {
        const field = response.result!.field ?? 0;
        const payload = response.result!.payload ?? new Uint8Array(0);
        if (field === 0 ? payload.length > 0 : !RESULT_FIELDS.has(field)) throw bad(`result field ${field} is not an RPCResult member`);
        if (!isWellFormedProtobuf(payload)) throw bad(`the payload of result field ${field} is not protobuf`);
        return { outcome: new EncodedMessage(encodeSplicedResult(reqId, traceId, field, payload)), code: 0 };
      }
      case 'error': {
        const code = response.error!.code ?? 0;
        if (code < 400 || code > 599) throw bad(`error code ${code} is outside 400-599`);
        const text = cutUtf8(response.error!.message ?? '', MAX_ERROR_MESSAGE_BYTES);
        // A retryable error is a failure of the route (breaker, metrics), relayed as given.
        if (response.error!.retryable) throw new HopFailure(code, text, true);
        return errorOutcome(reqId, traceId, code, text);
      }
      case 'disconnect': {
        const code = response.disconnect!.code ?? 0;
        if (code < 4100 || code > 4999) throw bad(`disconnect code ${code} is outside 4100-4999`);
        return { outcome: new CloseInstead(code, cutUtf8(response.disconnect!.reason ?? '', MAX_REASON_BYTES)), code: 0 };
      }
      default:
        throw bad(`outcome ${response.outcome ?? 'none'} is not an answer to a forwarded call`);
    }
  }
}

function decodeResponse(answer: Buffer, bad: (why: string) => HopFailure): backendProto.gateway.v1.BackendResponse {
  try {
    if (!isWellFormedProtobuf(answer)) throw new Error('not protobuf');
    return v1.BackendResponse.decode(answer);
  } catch {
    throw bad('the body is not a BackendResponse');
  }
}

function callerToWire(caller: OnBehalfOf): backendProto.gateway.v1.ICaller {
  return {
    user_id: idToWire(caller.userId),
    session_id: idToWire(caller.sessionId),
    bot: caller.bot,
    client_id: caller.device.clientId,
    device_type: caller.device.deviceType,
    device_version: caller.device.deviceVersion,
    app_version: caller.device.appVersion,
    ip: caller.ip,
  };
}

/** types.Group bytes (already checked to decode) as a preview's group; null when empty. */
function groupPreview(bytes: Uint8Array | null | undefined): GroupPreview | null {
  if (!bytes || bytes.length === 0) return null;
  const g = clientProto.client.types.Group.decode(bytes);
  return {
    id: idFromWire(g.id as never),
    name: g.name,
    owner: g.owner,
    participantIds: g.participant_ids.map((id) => idFromWire(id as never)),
    photo: g.photo ?? null,
  };
}

function errorOutcome(reqId: number, traceId: string, code: number, message: string): Outcome {
  return { outcome: rpcResult(reqId, { trace_id: traceId, error: { error_code: code, error_message: message } }), code };
}

/** undici's failures: a timeout is 504, anything else (refused, reset, closed) 503. */
function hopError(err: unknown): HopFailure {
  if (err instanceof HopFailure) return err;
  const e = err as { name?: string; code?: string };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new HopFailure(ErrorCode.GATEWAY_TIMEOUT, 'backend timed out', true);
  }
  return new HopFailure(ErrorCode.UNAVAILABLE, 'backend unavailable; retry later', true);
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      throw new HopFailure(ErrorCode.BAD_GATEWAY, 'bad answer from backend', true, { why: `answer larger than ${MAX_ANSWER_BYTES} bytes` });
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** `text` cut to at most `max` bytes of UTF-8, at a character boundary. */
function cutUtf8(text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** Every backend route, by method package. */
export class BackendRoutes implements Forwarder {
  private readonly byPackage = new Map<string, Route>();
  private readonly fallback: Route | undefined;
  private readonly all: Route[] = [];

  constructor(options: BackendRoutesOptions) {
    for (const given of options.routes) {
      const route = new Route(given, options);
      this.all.push(route);
      for (const name of given.packages) {
        if (name === '*') this.fallback ??= route;
        else this.byPackage.set(name, route);
      }
    }
  }

  routes(method: MethodName): boolean {
    return this.routeOf(method) !== undefined;
  }

  forward(method: MethodName, message: ClientMessage, conn: ConnectionState): Promise<Outcome> {
    return this.routeOf(method)!.forward(method, message, conn);
  }

  /**
   * The group hooks of the route the `chats` package goes to (the backend
   * owns groups then: docs/backend.md "Who owns groups"); null when chats
   * has no route.
   */
  groupHooks(): GroupHooks | null {
    const route = this.byPackage.get('chats') ?? this.fallback;
    if (!route) return null;
    return {
      async membership({ groupId, userId }, caller): Promise<HookMembership> {
        const m = await route.hook({ group_membership: { group_id: idToWire(groupId), user_id: idToWire(userId ?? '0') } }, 'group_membership', caller);
        const found = m.found === true;
        return { found, member: found && m.member === true, owner: found && m.owner === true, group: found ? groupPreview(m.group) : null };
      },
      async join(join: GroupJoinRequest, caller): Promise<{ alreadyMember: boolean }> {
        const joined = await route.hook(
          {
            group_join: {
              group_id: idToWire(join.groupId), user_id: idToWire(join.userId), invite_code: join.inviteCode, invite_creator_id: idToWire(join.inviteCreatorId),
            },
          },
          'group_joined',
          caller,
        );
        return { alreadyMember: joined.already_member === true };
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((r) => r.close()));
  }

  private routeOf(method: MethodName): Route | undefined {
    const name = method.slice(0, method.indexOf('_'));
    return this.byPackage.get(name) ?? this.fallback;
  }
}
