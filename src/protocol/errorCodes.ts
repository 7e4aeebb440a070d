/**
 * The catalogue of `RPCError.error_code` values. Codes follow HTTP meanings, as
 * the production Osmium server does (a rejected Authorize answers 403). Each
 * entry says whether a client may retry the same request unchanged.
 * README.md ("Error codes") restates this table.
 */
export const ErrorCode = {
  /** The request is malformed; the message names the field. Do not retry unchanged. */
  BAD_REQUEST: 400,
  /** The method needs a signed-in socket, or the credentials are wrong. Retry after signing in. */
  UNAUTHENTICATED: 401,
  /** Bad, expired or revoked token, or the caller may not do this. Do not retry. */
  FORBIDDEN: 403,
  /** The thing named does not exist (or the caller may not know it does). */
  NOT_FOUND: 404,
  /** Conflicts with current state (email taken, already a member). Do not retry unchanged. */
  CONFLICT: 409,
  /** Existed but is no longer usable (expired or used-up invite). Do not retry. */
  GONE: 410,
  /** Rate limited; the message says after how many seconds to retry. */
  RATE_LIMITED: 429,
  /** Unexpected server fault; `trace_id` identifies the log line. A retry may succeed. */
  INTERNAL: 500,
  /** The method exists in the Osmium protocol but this gateway does not serve it. Do not retry here. */
  NOT_SERVED: 501,
  /** The chat backend behind the gateway gave an answer that is not one (bad status, bad bytes). A retry may succeed. */
  BAD_GATEWAY: 502,
  /** A dependency (database, cache, the chat backend) is down or overloaded. Retry later. */
  UNAVAILABLE: 503,
  /** The chat backend did not answer in time (BACKEND_TIMEOUT_MS); whether it did the work is unknown. Retry later. */
  GATEWAY_TIMEOUT: 504,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A failure a handler reports to the client as an RPCError. */
export class RpcError extends Error {
  constructor(
    readonly code: ErrorCodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const badRequest = (message: string) => new RpcError(ErrorCode.BAD_REQUEST, message);
