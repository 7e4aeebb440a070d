/** Errors of the backend helper. */

/**
 * Thrown by a method or hook: answered to the gateway as
 * BackendResponse.error, which the client receives as RPCError { code,
 * message }. Use the gateway's HTTP-like codes (400 bad request naming the
 * field, 403 not allowed, 404 not found, 409 conflict, 429 rate limited, 503
 * unavailable...). `retryable`: the call had no effect and the same request
 * may succeed later (the gateway counts it against the backend's health).
 */
export class BackendError extends Error {
  readonly retryable: boolean;

  constructor(
    readonly code: number,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'BackendError';
    this.retryable = options.retryable === true;
  }
}

/** An answer of the gateway's internal API other than 200, or no answer at all (`status` 0: the request failed). */
export class GatewayApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'GatewayApiError';
  }
}
