/**
 * The backend side of the gateway → backend hop
 * (proto/osmium/gateway/v1/backend.proto; HTTP contract in README.md beside
 * it): a Node `(req, res)` handler that authenticates the gateway, decodes a
 * BackendRequest, calls the backend's function for the method or hook, and
 * encodes its answer as a BackendResponse.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { osmium } from '../gen/backend.js';
import { CLIENT_METHOD_FIELDS, RPC_RESULT_FIELDS, type ClientMethodName, type RpcResultName } from '../gen/fields.js';
import { BackendError } from './errors.js';
import { idFromWire, type Id } from './ids.js';

const v1 = osmium.gateway.v1;

/** The path the gateway posts to, below BACKEND_URL. */
export const CALL_PATH = '/osmium/v1/call';
export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';
/** A forwarded frame is at most MAX_FRAME_BYTES (16 MiB at the most), plus the caller. */
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024 + 64 * 1024;
/** Backends may close sockets with these codes; 4000-4099 are the gateway's own. */
const DISCONNECT_CODES = { min: 4100, max: 4999 };
const WEBSOCKET_REASON_BYTES = 123;

/** Who is calling: filled in by the gateway from the socket's verified session, never by the client. */
export interface Caller {
  userId: Id;
  sessionId: Id;
  bot: boolean;
  /** core.Initialize.client_id, device_type, device_version, app_version: what the client says it is (informational). */
  clientId: number;
  deviceType: string;
  deviceVersion: string;
  appVersion: string;
  /** The client's address as the gateway determined it. */
  ip: string;
}

/** What every function of a handler gets beside its input. */
export interface CallContext {
  /** W3C trace id (32 hex), the one the client sees as RPCResult.trace_id. */
  traceId: string;
  /** Set for forwarded calls; for hooks, when one runs on behalf of a client request. */
  caller: Caller | undefined;
  /** Aborted when the gateway gave up (its timeout, `x-osmium-timeout-ms`) or closed the connection. */
  signal: AbortSignal;
}

/** A forwarded client request. */
export interface ForwardedCallContext extends CallContext {
  caller: Caller;
  /** The ClientMessage method, e.g. `messages_send_message` (field 4). */
  method: ClientMethodName;
  methodField: number;
  /** The client's req_id (for logs: the gateway matches the answer itself). */
  reqId: number;
}

/**
 * A method's answer. `result`: the RPCResult member (a name such as
 * `sent_message` or its field number) and its encoded message, spliced into
 * the client's RPCResult as it is. Nothing (undefined) answers `()`. `error`
 * (or a thrown BackendError) becomes the client's RPCError. `disconnect`
 * closes the calling socket with a 4100-4999 code instead of answering.
 */
export type MethodAnswer =
  | { result: { field: RpcResultName | number; bytes: Uint8Array } }
  | { error: { code: number; message: string; retryable?: boolean } }
  | { disconnect: { code: number; reason?: string } }
  | undefined
  | void;

/** Serves one ClientMessage method: the request's bytes (the method's message, encoded) in, an answer out. */
export type MethodFunction = (payload: Uint8Array, call: ForwardedCallContext) => MethodAnswer | Promise<MethodAnswer>;

/** GroupMembershipQuery: may `userId` see this group's invites? (userId "0": only the group is wanted). */
export interface GroupMembershipQuery {
  groupId: Id;
  userId: Id;
}
export interface GroupMembershipAnswer {
  /** The group exists; when false the rest is ignored. */
  found: boolean;
  member?: boolean;
  owner?: boolean;
  /** An encoded osmium.client.types.Group as userId sees it (for invite previews). */
  group?: Uint8Array;
}

/** GroupJoin: add `userId` to the group (they accepted invite `inviteCode`); idempotent. */
export interface GroupJoinRequest {
  groupId: Id;
  userId: Id;
  inviteCode: string;
  inviteCreatorId: Id;
}
export interface GroupJoinAnswer {
  /** The user already was a participant: nothing changed (the gateway answers 409 and counts no use). */
  alreadyMember: boolean;
  /** An encoded osmium.client.types.Group after the join. */
  group?: Uint8Array;
}

/** The gateway's own questions, asked when the chats package is routed to this backend (the backend owns groups). */
export interface BackendHooks {
  groupMembership?: (query: GroupMembershipQuery, call: CallContext) => GroupMembershipAnswer | Promise<GroupMembershipAnswer>;
  groupJoin?: (join: GroupJoinRequest, call: CallContext) => GroupJoinAnswer | Promise<GroupJoinAnswer>;
}

export interface BackendHandlerOptions {
  /** BACKEND_SECRET: the gateway sends `authorization: Bearer <secret>` on every call. */
  secret: string;
  /** The methods served, by ClientMessage field name; any other is answered 501. */
  methods: Partial<Record<ClientMethodName, MethodFunction>>;
  hooks?: BackendHooks;
  /** The path served (default /osmium/v1/call: BACKEND_URL names the origin); null serves any path. */
  path?: string | null;
  /** Larger bodies are refused with 413 (default 16 MiB + 64 KiB: the largest frame a gateway accepts, and the caller). */
  maxBodyBytes?: number;
  /**
   * Called with what a function threw that was not a BackendError (the
   * gateway then gets error 500 "internal error (trace ...)", nothing of
   * the error itself); default: console.error.
   */
  onError?: (err: unknown, call: CallContext) => void;
}

/** A refusal at the HTTP level: the gateway answers its client 502 (503 for 503) and logs it. */
class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Returns a Node request handler for the gateway → backend hop, for
 * `http.createServer(handler)` or a route of your own server:
 *
 *   createBackendHandler({
 *     secret: process.env.BACKEND_SECRET,
 *     methods: {
 *       messages_send_message: async (payload, call) => {
 *         const request = SendMessage.decode(payload);
 *         ...
 *         return { result: { field: 'sent_message', bytes: SentMessage.encode({ message_id }).finish() } };
 *       },
 *     },
 *     hooks: { groupMembership: ..., groupJoin: ... },
 *   });
 *
 * HTTP answers: 200 with a BackendResponse for every call that reached a
 * function (including its errors); 401 without the right secret (compared in
 * constant time), 404 another path, 405 not POST, 415 not
 * application/x-protobuf, 413 too large, 400 a body that is not a
 * BackendRequest.
 */
export function createBackendHandler(options: BackendHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  if (!options.secret) throw new TypeError('createBackendHandler: secret is required (BACKEND_SECRET)');
  // Equal-length digests: timingSafeEqual needs equal lengths, and the time then tells nothing of the secret's length.
  const expected = digest(`Bearer ${options.secret}`);
  const path = options.path === undefined ? CALL_PATH : options.path;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = options.onError ?? ((err, call) => console.error(`backend call failed (trace ${call.traceId}):`, err));

  function authorized(header: string | undefined): boolean {
    return timingSafeEqual(digest(header ?? ''), expected);
  }

  return (req, res) => {
    const controller = new AbortController();
    // The gateway gave up (timeout) or went away: work for it can stop.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the gateway closed the connection'));
    });
    serve(req, controller).then(
      (answer) => send(res, 200, PROTOBUF_CONTENT_TYPE, v1.BackendResponse.encode(answer).finish()),
      (err: unknown) => {
        if (err instanceof HttpRefusal) send(res, err.status, 'text/plain; charset=utf-8', Buffer.from(`${err.message}\n`), err.headers);
        else send(res, 500, 'text/plain; charset=utf-8', Buffer.from('internal error\n'));
        // Whatever the gateway still sends of a refused body is not worth reading.
        if (!req.readableEnded) res.once('finish', () => req.destroy());
      },
    );
  };

  async function serve(req: IncomingMessage, controller: AbortController): Promise<osmium.gateway.v1.BackendResponse> {
    if (path !== null && (req.url ?? '').split('?')[0] !== path) throw new HttpRefusal(404, `not found: the gateway posts to ${path}`);
    if (req.method !== 'POST') throw new HttpRefusal(405, 'only POST', { allow: 'POST' });
    if (!authorized(req.headers.authorization)) throw new HttpRefusal(401, 'wrong or missing secret', { 'www-authenticate': 'Bearer' });
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== PROTOBUF_CONTENT_TYPE) throw new HttpRefusal(415, `content-type must be ${PROTOBUF_CONTENT_TYPE}`);
    const body = await readBody(req, maxBodyBytes);
    let request: osmium.gateway.v1.BackendRequest;
    try {
      request = v1.BackendRequest.decode(body);
    } catch (err) {
      throw new HttpRefusal(400, `the body is not an osmium.gateway.v1.BackendRequest: ${(err as Error).message}`);
    }
    if (!request.call) throw new HttpRefusal(400, 'the BackendRequest has no call set');
    const timeoutMs = Number(req.headers['x-osmium-timeout-ms']);
    const signal = Number.isFinite(timeoutMs) && timeoutMs > 0 ? AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]) : controller.signal;
    const context: CallContext = { traceId: request.trace_id, caller: request.caller ? callerFromWire(request.caller as osmium.gateway.v1.Caller) : undefined, signal };
    try {
      return await dispatch(request, context);
    } catch (err) {
      if (err instanceof HttpRefusal) throw err;
      if (err instanceof BackendError) return errorResponse(err.code, err.message, err.retryable);
      onError(err, context);
      return errorResponse(500, `internal error (trace ${context.traceId})`, false);
    }
  }

  async function dispatch(request: osmium.gateway.v1.BackendRequest, context: CallContext): Promise<osmium.gateway.v1.BackendResponse> {
    if (request.call === 'forward') {
      const call = request.forward as osmium.gateway.v1.ForwardedCall;
      const method = call.method_name as ClientMethodName;
      const serve = Object.hasOwn(options.methods, method) ? options.methods[method] : undefined;
      if (!serve) return errorResponse(501, `${call.method_name || `method ${call.method_field}`} is not served by this backend`, false);
      if (CLIENT_METHOD_FIELDS[method] !== call.method_field) throw new HttpRefusal(400, `method ${call.method_name} is field ${CLIENT_METHOD_FIELDS[method]}, not ${call.method_field}`);
      if (!context.caller) throw new HttpRefusal(400, 'a forwarded call has no caller');
      const forwarded: ForwardedCallContext = { ...context, caller: context.caller, method, methodField: call.method_field, reqId: call.req_id };
      return methodResponse(await serve(call.payload, forwarded));
    }
    if (request.call === 'group_membership') {
      const hook = options.hooks?.groupMembership;
      if (!hook) return errorResponse(501, 'group membership is not served by this backend', false);
      const query = request.group_membership as osmium.gateway.v1.GroupMembershipQuery;
      const answer = await hook({ groupId: idFromWire(query.group_id), userId: idFromWire(query.user_id) }, context);
      const found = answer.found === true;
      return new v1.BackendResponse({
        group_membership: {
          found,
          member: found && answer.member === true,
          owner: found && answer.owner === true,
          group: found && answer.group ? answer.group : new Uint8Array(0),
        },
      });
    }
    const hook = options.hooks?.groupJoin;
    if (!hook) return errorResponse(501, 'group join is not served by this backend', false);
    const join = request.group_join as osmium.gateway.v1.GroupJoin;
    const answer = await hook(
      { groupId: idFromWire(join.group_id), userId: idFromWire(join.user_id), inviteCode: join.invite_code, inviteCreatorId: idFromWire(join.invite_creator_id) },
      context,
    );
    return new v1.BackendResponse({ group_joined: { already_member: answer.alreadyMember === true, group: answer.group ?? new Uint8Array(0) } });
  }
}

/** Checks a method's answer here, where the backend's author sees the mistake, rather than as the gateway's 502. */
function methodResponse(answer: MethodAnswer): osmium.gateway.v1.BackendResponse {
  if (!answer) return new v1.BackendResponse({ result: { field: 0, payload: new Uint8Array(0) } });
  if ('result' in answer) {
    const { field, bytes } = answer.result;
    const number = typeof field === 'number' ? field : RPC_RESULT_FIELDS[field];
    if (number === undefined || number === RPC_RESULT_FIELDS.error || !Object.values(RPC_RESULT_FIELDS).includes(number as never)) {
      throw new TypeError(`result field ${String(field)} is not a member of RPCResult.result (answer { error } for errors)`);
    }
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`result bytes must be a Uint8Array (the encoded ${String(field)})`);
    return new v1.BackendResponse({ result: { field: number, payload: bytes } });
  }
  if ('error' in answer) return errorResponse(answer.error.code, answer.error.message, answer.error.retryable === true);
  const { code, reason = '' } = answer.disconnect;
  if (!Number.isInteger(code) || code < DISCONNECT_CODES.min || code > DISCONNECT_CODES.max) {
    throw new TypeError(`disconnect code ${code} is outside ${DISCONNECT_CODES.min}-${DISCONNECT_CODES.max} (4000-4099 are the gateway's)`);
  }
  if (Buffer.byteLength(reason) > WEBSOCKET_REASON_BYTES) throw new TypeError(`disconnect reason is over ${WEBSOCKET_REASON_BYTES} bytes`);
  return new v1.BackendResponse({ disconnect: { code, reason } });
}

function errorResponse(code: number, message: string, retryable: boolean): osmium.gateway.v1.BackendResponse {
  if (!Number.isInteger(code) || code < 400 || code > 599) throw new TypeError(`error code ${code} is outside 400-599`);
  return new v1.BackendResponse({ error: { code, message, retryable } });
}

function callerFromWire(caller: osmium.gateway.v1.Caller): Caller {
  return {
    userId: idFromWire(caller.user_id),
    sessionId: idFromWire(caller.session_id),
    bot: caller.bot === true,
    clientId: caller.client_id,
    deviceType: caller.device_type,
    deviceVersion: caller.device_version,
    appVersion: caller.app_version,
    ip: caller.ip,
  };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpRefusal(413, `body over ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new HttpRefusal(413, `body over ${limit} bytes`));
      } else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: Uint8Array, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(body.byteLength), ...headers });
  res.end(body);
}
