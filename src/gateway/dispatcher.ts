/**
 * Turns one decoded ClientMessage into its RPCResult: finds the handler in the
 * method table, enforces `needsSession`, and maps failures to RPCError; hands
 * back what the handler asks of the socket (SocketChange), for the request
 * pipeline to apply. Knows nothing of sockets.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { MethodTable } from '../methods/index.js';
import { refuseControlCharacters } from '../methods/validate.js';
import type { Answer, ConnectionState, MethodContext, SocketChange } from '../methods/types.js';
import { rpcResult, type CloseInstead, type EncodedMessage, type ClientMessage, type MethodName, type RpcResultInit } from '../protocol/codec.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { Services } from '../services/index.js';

/** Observes each request's outcome (metrics, request log). */
export type RequestObserver = (method: MethodName, code: number, seconds: number) => void;

/** A request's outcome: the result to send, and what the socket should become (only for a success). */
export interface Dispatched {
  /** Built here, or a backend's answer already encoded, or a close instead of an answer. */
  result: RpcResultInit | EncodedMessage | CloseInstead;
  change?: SocketChange;
}

/**
 * Where methods the table does not serve go (backendRoute.ts): a backend
 * route per method package, or none (501).
 */
export interface Forwarder {
  /** True when `method` has a backend route. */
  routes(method: MethodName): boolean;
  /** Forwards a request of a socket with a session; resolves with the outcome and its code (0, or the error code) for the metrics. */
  forward(method: MethodName, message: ClientMessage, conn: ConnectionState): Promise<{ outcome: EncodedMessage | CloseInstead | RpcResultInit; code: number }>;
}

export class Dispatcher {
  constructor(
    private readonly table: MethodTable,
    private readonly services: Services,
    private readonly log: Logger,
    private readonly observe: RequestObserver = () => {},
    private readonly forwarder: Forwarder | null = null,
  ) {}

  /** Handles a request (a ClientMessage whose `message` is set). Never throws. */
  async dispatch(message: ClientMessage, conn: ConnectionState): Promise<Dispatched> {
    const method = message.message as MethodName;
    const reqId = message.id >>> 0;
    const started = process.hrtime.bigint();
    let result: Dispatched['result'];
    let change: SocketChange | undefined;
    let code = 0;
    try {
      const handler = this.table[method];
      if (!handler && this.forwarder?.routes(method)) {
        // No route is public: a socket without a session never reaches a backend.
        if (!conn.session) throw new RpcError(ErrorCode.UNAUTHENTICATED, `${method} needs a signed-in session`);
        const forwarded = await this.forwarder.forward(method, message, conn);
        result = forwarded.outcome;
        code = forwarded.code;
        this.observe(method, code, Number(process.hrtime.bigint() - started) / 1e9);
        return { result };
      }
      if (!handler) throw new RpcError(ErrorCode.NOT_SERVED, `method ${method} is not served by this gateway`);
      if (handler.needsSession && !conn.session) throw new RpcError(ErrorCode.UNAUTHENTICATED, `${method} needs a signed-in session`);
      if (handler.peopleOnly && conn.session?.bot) {
        throw new RpcError(ErrorCode.FORBIDDEN, `bots cannot call ${method}: bots have no password or email and sign in with their token only`);
      }
      const ctx: MethodContext = { conn, services: this.services, log: this.log };
      // The table guarantees handler and payload belong to the same member.
      const payload = (message as unknown as Record<string, unknown>)[method];
      // Before anything else reads it, the log included (validate.ts): no control character gets further.
      refuseControlCharacters(payload, '');
      // Secrets in the payload (password, token, code) are redacted by the logger.
      this.log.trace({ method, reqId, request: payload }, 'request received');
      const answer = await (handler.handle as (req: unknown, ctx: MethodContext) => Promise<Answer>)(payload, ctx);
      result = rpcResult(reqId, answer.result);
      change = answer.change;
    } catch (err) {
      const traceId = randomBytes(8).toString('hex');
      if (err instanceof RpcError) {
        code = err.code;
        // Refusals (4xx, and 501 for an unserved method) are the client's business; a deliberate 5xx is ours.
        if (err.code >= 500 && err.code !== ErrorCode.NOT_SERVED) this.log.warn({ method, code, traceId, reason: err.message }, 'request failed');
        else this.log.debug({ method, code, traceId, msg: err.message }, 'request refused');
        result = rpcResult(reqId, { trace_id: traceId, error: { error_code: err.code, error_message: err.message } });
      } else {
        code = isUnavailable(err) ? ErrorCode.UNAVAILABLE : ErrorCode.INTERNAL;
        this.log.error({ err, method, traceId }, 'request failed');
        const text = code === ErrorCode.UNAVAILABLE ? 'a dependency is unavailable, retry later' : 'internal error';
        result = rpcResult(reqId, { trace_id: traceId, error: { error_code: code, error_message: `${text} (trace ${traceId})` } });
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.observe(method, code, seconds);
    if (code === 0) this.log.debug({ method, reqId, ms: Math.round(seconds * 1e4) / 10 }, 'request');
    return change ? { result, change } : { result };
  }

  /** The RPCResult refusing a request (a failed bind: 403), with a trace id like every error. */
  refusal(reqId: number, err: RpcError): RpcResultInit {
    const traceId = randomBytes(8).toString('hex');
    this.log.debug({ code: err.code, traceId, msg: err.message }, 'request refused');
    return rpcResult(reqId, { trace_id: traceId, error: { error_code: err.code, error_message: err.message } });
  }
}

/** Connection failures to Postgres (or Redis where no fallback exists) and statements that timed out (QUERY_TIMEOUT_MS) are 503, not 500. */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error)?.message ?? '';
  return (
    // Sockets; Postgres: connection exceptions (class 08), shutdown and crash (57P*), too many connections,
    // and a database that is not accepting connections (55000, e.g. ALLOW_CONNECTIONS false during maintenance).
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '53300', '55000'].includes(code) ||
    code.startsWith('08') ||
    code.startsWith('57P') ||
    /Connection terminated|timeout exceeded when trying to connect|Connection is closed|Query read timeout|not queryable/.test(message)
  );
}
