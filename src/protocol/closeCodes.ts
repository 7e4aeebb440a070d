/**
 * The catalogue of WebSocket close codes the gateway sends. 1000-1015 are the
 * RFC 6455 codes; 4000-4999 are this gateway's own. Each says whether a client
 * should reconnect. README.md ("Close codes") restates this table.
 */
export const CloseCode = {
  /** The gateway is shutting down. Reconnect (to another instance). */
  GOING_AWAY: 1001,
  /** A text frame arrived; the protocol is binary only. Fix the client. */
  UNSUPPORTED_DATA: 1003,
  /** A frame did not decode as osmium.client.core.ClientMessage. Fix the client. */
  INVALID_PAYLOAD: 1007,
  /** Policy violation: request flood beyond the hard ceiling, or no valid frame in time. Back off before reconnecting. */
  POLICY_VIOLATION: 1008,
  /** A frame was larger than MAX_FRAME_BYTES. Fix the client. */
  MESSAGE_TOO_BIG: 1009,
  /** The session bound to this socket was revoked (sign-out elsewhere, password reset). Do not resume it: sign in again. */
  SESSION_REVOKED: 4001,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];
