/**
 * Pub/sub between gateway instances (revocations, key rotations).
 * Implementations: brokerRedis.ts (Redis pub/sub, several instances),
 * brokerMemory.ts (one process). Delivery is at most once: anything that must
 * not be lost is written to Postgres first, and instances reconcile with
 * Postgres when the broker reconnects.
 */
export type BrokerHandler = (payload: string) => void;

export interface Broker {
  publish(topic: string, payload: string): Promise<void>;
  subscribe(topic: string, handler: BrokerHandler): Promise<void>;
  /** Called after the broker lost messages (reconnect), so state can be reconciled. */
  onResync(handler: () => void): void;
  close(): Promise<void>;
}

/** Topics the gateway uses. */
export const Topic = {
  /** Payload: JSON `{"ids": [session ids], "at": publish time in Unix ms}` (RevokedPayload). */
  SESSIONS_REVOKED: 'sessions.revoked',
  /** Payload: empty; signing keys changed, reload them. */
  KEYS_CHANGED: 'keys.changed',
} as const;
