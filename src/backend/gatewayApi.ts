/**
 * A typed client for the gateway's internal API (API_HOST:API_PORT): push
 * Updates to any user's or session's sockets on every instance, close
 * sockets, ask who is online. Protobuf bodies
 * (proto/osmium/gateway/v1/backend.proto) over keep-alive connections
 * (undici). Calls are never retried: a push is delivered at most once, and a
 * retried push could be delivered twice.
 */
import type Long from 'long';
import { Pool } from 'undici';
import { osmium } from '../gen/backend.js';
import { GatewayApiError } from './errors.js';
import { idFromWire, idToWire, type Id } from './ids.js';

const v1 = osmium.gateway.v1;
const PROTOBUF = 'application/x-protobuf';

export interface GatewayApiOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8081 (GATEWAY_API_URL); a path is kept as a prefix. */
  url: string;
  /** One of the gateway's API_KEYS, sent as `authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** A call not answered within this is abandoned with GatewayApiError status 0 (default 5 000 ms). */
  timeoutMs?: number;
  /** Connections kept open to the gateway (default 8). */
  connections?: number;
}

/** One Update for some sockets (PushRequest). */
export interface Push {
  /** An encoded osmium.client.updates.Update, sent to the sockets as it is. */
  update: Uint8Array;
  /** Every socket of these users. */
  userIds?: Array<Id | bigint>;
  /** Every socket of these sessions. */
  sessionIds?: Array<Id | bigint>;
  /** None of these sessions' sockets, even when named above: the sender's own session. */
  excludeSessions?: Array<Id | bigint>;
}

export interface Disconnect {
  userIds?: Array<Id | bigint>;
  sessionIds?: Array<Id | bigint>;
  /** WebSocket close code 4100-4999. */
  code: number;
  /** At most 123 bytes of UTF-8. */
  reason?: string;
}

export interface UserPresence {
  userId: Id;
  /** An authorized socket somewhere (within the gateway's documented grace). */
  online: boolean;
  /** Distinct sessions with an authorized socket. */
  sessions: number;
}

/** What a push reached: instances it was published to, summed over its targets (0: nobody was online). */
export interface PushResult {
  instances: number;
}

/**
 *   const gateway = new GatewayApi({ url: process.env.GATEWAY_API_URL, apiKey: process.env.GATEWAY_API_KEY });
 *   await gateway.push({ update, userIds: members, excludeSessions: [call.caller.sessionId] });
 *
 * Every method throws GatewayApiError: `status` is the HTTP status the
 * gateway answered (400 a bad request, 401 a wrong key, 429 too many failed
 * keys from this address, 503 the gateway cannot publish), or 0 when no
 * answer came (refused, timed out).
 */
export class GatewayApi {
  private readonly pool: Pool;
  private readonly prefix: string;
  private readonly authorization: string;
  private readonly timeoutMs: number;

  constructor(options: GatewayApiOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`GatewayApi: url must be http(s), got ${options.url}`);
    if (!options.apiKey) throw new TypeError('GatewayApi: apiKey is required');
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.authorization = `Bearer ${options.apiKey}`;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.pool = new Pool(url.origin, { connections: options.connections ?? 8, keepAliveTimeout: 30_000 });
  }

  /** POST /v1/push: one Update to users and/or sessions, on every instance. */
  async push(push: Push): Promise<PushResult> {
    const answer = await this.call('/v1/push', v1.PushRequest.encode(pushToWire(push)).finish());
    return { instances: v1.PushResponse.decode(answer).instances };
  }

  /** POST /v1/push/batch: many pushes in one call, applied in order; one result per push. */
  async pushBatch(pushes: Push[]): Promise<PushResult[]> {
    const body = v1.PushBatchRequest.encode({ pushes: pushes.map(pushToWire) }).finish();
    const answer = v1.PushBatchResponse.decode(await this.call('/v1/push/batch', body));
    return answer.results.map((r) => ({ instances: r.instances ?? 0 }));
  }

  /** POST /v1/disconnect: close every socket of these users and sessions with `code` (sessions stay valid). */
  async disconnect(disconnect: Disconnect): Promise<PushResult> {
    const body = v1.DisconnectRequest.encode({
      user_ids: (disconnect.userIds ?? []).map(idToWire),
      session_ids: (disconnect.sessionIds ?? []).map(idToWire),
      code: disconnect.code,
      reason: disconnect.reason ?? '',
    }).finish();
    return { instances: v1.DisconnectResponse.decode(await this.call('/v1/disconnect', body)).instances };
  }

  /** POST /v1/presence: for 1 to 1 000 users, whether each is online and on how many sessions, in the order asked. */
  async presence(userIds: Array<Id | bigint>): Promise<UserPresence[]> {
    const body = v1.PresenceRequest.encode({ user_ids: userIds.map(idToWire) }).finish();
    const answer = v1.PresenceResponse.decode(await this.call('/v1/presence', body));
    return answer.users.map((u) => ({ userId: idFromWire(u.user_id as Long), online: u.online === true, sessions: u.sessions ?? 0 }));
  }

  /** Closes the kept connections (after the calls in flight). */
  close(): Promise<void> {
    return this.pool.close();
  }

  private async call(path: string, body: Uint8Array): Promise<Uint8Array> {
    let response;
    try {
      response = await this.pool.request({
        method: 'POST',
        path: `${this.prefix}${path}`,
        headers: { authorization: this.authorization, 'content-type': PROTOBUF, accept: PROTOBUF },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new GatewayApiError(0, `gateway API ${path}: ${(err as Error).message}`, { cause: err });
    }
    const bytes = new Uint8Array(await response.body.arrayBuffer());
    if (response.statusCode !== 200) {
      const text = Buffer.from(bytes).toString('utf8').trim().slice(0, 500);
      throw new GatewayApiError(response.statusCode, `gateway API ${path} answered ${response.statusCode}${text ? `: ${text}` : ''}`);
    }
    return bytes;
  }
}

function pushToWire(push: Push): osmium.gateway.v1.PushRequest.$Properties {
  if (!(push.update instanceof Uint8Array)) throw new TypeError('push: update must be the encoded Update (a Uint8Array)');
  return {
    update: push.update,
    user_ids: (push.userIds ?? []).map(idToWire),
    session_ids: (push.sessionIds ?? []).map(idToWire),
    exclude_sessions: (push.excludeSessions ?? []).map(idToWire),
  };
}
