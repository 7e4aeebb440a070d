/**
 * The internal API's push routes (issue 26; schema: backend.proto section 2,
 * contract: the README beside it): POST /v1/push, /v1/push/batch,
 * /v1/disconnect and /v1/presence. Bodies are protobuf or proto3 JSON, and
 * answers take the request's form. A push is checked whole before anything
 * is published (one bad push refuses its batch); then every target user's
 * topic gets it, in the request's order (userSockets.ts delivers it).
 */
import { osmium as backendProto } from '../../gen/backend.js';
import type { Id } from '../../domain/ids.js';
import { isSnowflake } from '../../domain/ids.js';
import type { Logger } from '../../logger.js';
import { idFromWire, idToWire, updateMemberOf } from '../../protocol/codec.js';
import { ApiError, jsonBody, type ApiListener, type ApiRequest, type ApiResponse } from '../apiListener.js';
import type { PresenceEntries, UserMessage, UserSockets } from '../userSockets.js';

const v1 = backendProto.gateway.v1;

/** Targets (user and session ids together) of one push at most. */
const MAX_TARGETS = 10_000;
/** Pushes of one batch at most. */
const MAX_BATCH = 1_000;
/** Users of one presence question at most. */
const MAX_PRESENCE_USERS = 1_000;
const MAX_REASON_BYTES = 123;

export interface PushRouteDeps {
  userSockets: UserSockets;
  presence: PresenceEntries;
  /** The user of each live session named (unknown or revoked sessions are left out). */
  usersOfSessions(sessionIds: readonly Id[]): Promise<Map<Id, Id>>;
  log: Logger;
}

interface Decodable<T> {
  decode(bytes: Uint8Array): T;
  fromObject(object: Record<string, unknown>): T;
}
interface Encodable<T> {
  encode(message: T): { finish(): Uint8Array };
  fromObject(object: Record<string, unknown>): T;
  toObject(message: T, options: Record<string, unknown>): Record<string, unknown>;
}

function body<T>(req: ApiRequest, type: Decodable<T>): T {
  if (req.protobuf) {
    try {
      return type.decode(req.body);
    } catch {
      throw new ApiError(400, 'the body does not decode as the route\'s message (backend.proto)');
    }
  }
  const json = jsonBody(req);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ApiError(400, 'the body must be a JSON object');
  try {
    return type.fromObject(json as Record<string, unknown>);
  } catch (err) {
    throw new ApiError(400, `the body is not the route's message: ${(err as Error).message}`);
  }
}

function answer<T>(req: ApiRequest, type: Encodable<T>, value: Record<string, unknown>): ApiResponse {
  const message = type.fromObject(value);
  if (req.protobuf) return { status: 200, protobuf: type.encode(message).finish() };
  return { status: 200, json: type.toObject(message, { longs: String, bytes: String, defaults: true }) };
}

function ids(values: ReadonlyArray<unknown> | null | undefined, field: string): Id[] {
  return (values ?? []).map((v) => {
    const id = idFromWire(v as never);
    if (!isSnowflake(id)) throw new ApiError(400, `${field}: ${id} is not an id`);
    return id;
  });
}

/** One push, checked: the update's bytes and its targets. */
interface CheckedPush {
  update: string;
  users: Id[];
  sessions: Id[];
  exclude: Id[];
}

function checkPush(push: backendProto.gateway.v1.PushRequest, where: string): CheckedPush {
  const update = push.update ?? new Uint8Array(0);
  if (!update.length || updateMemberOf(update) === null) throw new ApiError(400, `${where}update: not an encoded osmium.client.updates.Update with a known member set`);
  const users = ids(push.user_ids, `${where}user_ids`);
  const sessions = ids(push.session_ids, `${where}session_ids`);
  if (!users.length && !sessions.length) throw new ApiError(400, `${where}user_ids, session_ids: at least one target`);
  if (users.length + sessions.length > MAX_TARGETS) throw new ApiError(400, `${where}user_ids, session_ids: at most ${MAX_TARGETS} targets together`);
  return { update: Buffer.from(update).toString('base64'), users, sessions, exclude: ids(push.exclude_sessions, `${where}exclude_sessions`) };
}

/** Publishes each message to its user's topic, in order; resolves with the instances reached, per group. */
async function publishAll(deps: PushRouteDeps, groups: Array<Array<[Id, UserMessage]>>): Promise<number[]> {
  // A push to many users hands them all the same message object: serialized once, not once per user.
  const serialized = new Map<UserMessage, string>();
  const json = (message: UserMessage) => {
    let text = serialized.get(message);
    if (text === undefined) serialized.set(message, (text = JSON.stringify(message)));
    return text;
  };
  // Every publish is issued now, in order, on the broker's one connection (order per user); then awaited.
  const pending = groups.map((group) => group.map(([userId, message]) => deps.userSockets.publish(userId, json(message))));
  try {
    return await Promise.all(pending.map(async (group) => (await Promise.all(group)).reduce((a, b) => a + b, 0)));
  } catch (err) {
    deps.log.warn({ err }, 'push not published: the broker is unreachable');
    throw new ApiError(503, 'the broker is unreachable; nothing or part was published');
  }
}

/** Sessions named → a message per user (users named whole get all their sessions; sessions only theirs). */
function messagesOf(users: Id[], sessions: Id[], owners: Map<Id, Id>, base: UserMessage): Array<[Id, UserMessage]> {
  const whole = new Set(users);
  const out: Array<[Id, UserMessage]> = [...whole].map((u) => [u, base]);
  const some = new Map<Id, Id[]>();
  for (const s of sessions) {
    const owner = owners.get(s);
    if (owner === undefined || whole.has(owner)) continue;
    const list = some.get(owner);
    if (list) list.push(s);
    else some.set(owner, [s]);
  }
  for (const [u, s] of some) out.push([u, { ...base, s }]);
  return out;
}

async function pushMany(deps: PushRouteDeps, pushes: CheckedPush[]): Promise<number[]> {
  const owners = await deps.usersOfSessions([...new Set(pushes.flatMap((p) => p.sessions))]);
  return publishAll(
    deps,
    pushes.map((p) => messagesOf(p.users, p.sessions, owners, p.exclude.length ? { u: p.update, x: p.exclude } : { u: p.update })),
  );
}

/** Registers the push, disconnect and presence routes on the internal API. */
export function registerPushRoutes(api: ApiListener, deps: PushRouteDeps): void {
  api.route('POST', '/v1/push', async (req) => {
    const [instances] = await pushMany(deps, [checkPush(body(req, v1.PushRequest), '')]);
    return answer(req, v1.PushResponse as never, { instances });
  });

  api.route('POST', '/v1/push/batch', async (req) => {
    const batch = body(req, v1.PushBatchRequest);
    const pushes = batch.pushes ?? [];
    if (!pushes.length || pushes.length > MAX_BATCH) throw new ApiError(400, `pushes: 1 to ${MAX_BATCH}`);
    const checked = pushes.map((p, i) => checkPush(v1.PushRequest.fromObject(p as never), `pushes[${i}].`));
    const results = await pushMany(deps, checked);
    return answer(req, v1.PushBatchResponse as never, { results: results.map((instances) => ({ instances })) });
  });

  api.route('POST', '/v1/disconnect', async (req) => {
    const request = body(req, v1.DisconnectRequest);
    const code = request.code ?? 0;
    if (code < 4100 || code > 4999) throw new ApiError(400, 'code: a close code 4100-4999 (4000-4099 are the gateway\'s own)');
    const reason = request.reason ?? '';
    if (Buffer.byteLength(reason, 'utf8') > MAX_REASON_BYTES) throw new ApiError(400, `reason: at most ${MAX_REASON_BYTES} bytes of UTF-8`);
    const users = ids(request.user_ids, 'user_ids');
    const sessions = ids(request.session_ids, 'session_ids');
    if (!users.length && !sessions.length) throw new ApiError(400, 'user_ids, session_ids: at least one target');
    if (users.length + sessions.length > MAX_TARGETS) throw new ApiError(400, `user_ids, session_ids: at most ${MAX_TARGETS} targets together`);
    const owners = await deps.usersOfSessions(sessions);
    const [instances] = await publishAll(deps, [messagesOf(users, sessions, owners, { c: code, r: reason })]);
    return answer(req, v1.DisconnectResponse as never, { instances });
  });

  api.route('POST', '/v1/presence', async (req) => {
    const users = ids(body(req, v1.PresenceRequest).user_ids, 'user_ids');
    if (!users.length || users.length > MAX_PRESENCE_USERS) throw new ApiError(400, `user_ids: 1 to ${MAX_PRESENCE_USERS}`);
    let counts: number[];
    try {
      counts = await deps.presence.sessionsOnline(users, Date.now());
    } catch (err) {
      deps.log.warn({ err }, 'presence unavailable');
      throw new ApiError(503, 'presence is unavailable; retry later');
    }
    return answer(req, v1.PresenceResponse as never, {
      users: users.map((u, i) => ({ user_id: idToWire(u), online: counts[i]! > 0, sessions: counts[i] })),
    });
  });
}
