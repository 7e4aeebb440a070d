/**
 * Pub/sub between gateway instances (revocations, key rotations).
 * Implementations: brokerRedis.ts (Redis pub/sub, several instances),
 * brokerMemory.ts (one process). Delivery is at most once: anything that must
 * not be lost is written to Postgres first, and instances reconcile with
 * Postgres when the broker reconnects.
 */
export type BrokerHandler = (payload: string) => void;

export interface Broker {
  /** Publishes to every subscriber of `topic`; resolves with how many subscribers received it. */
  publish(topic: string, payload: string): Promise<number>;
  subscribe(topic: string, handler: BrokerHandler): Promise<void>;
  /** Drops every handler of `topic` and stops receiving it (the per-user push topics come and go with their sockets). */
  unsubscribe(topic: string): Promise<void>;
  /**
   * Called after the broker lost messages (a reconnect), with when the
   * connection was lost (Unix ms), so state changed since then can be reconciled.
   */
  onResync(handler: (lostAt: number) => void): void;
  close(): Promise<void>;
}

/** Topics the gateway uses. */
export const Topic = {
  /** Payload: a revocation (domain/revocation.ts). */
  SESSIONS_REVOKED: 'sessions.revoked',
  /** Confirmations of revocations for one instance: `sessions.revoked.ack.<instance>`. */
  revocationAcks: (instance: string) => `sessions.revoked.ack.${instance}`,
  /** Payload: empty; signing keys changed, reload them. */
  KEYS_CHANGED: 'keys.changed',
  /** Pushes and disconnects for one user's sockets (gateway/userSockets.ts), subscribed by the instances holding one. */
  user: (userId: string) => `user.${userId}`,
} as const;
