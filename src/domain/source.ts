/** Who a request comes from: what rate limits are keyed by. */
import type { Id } from './ids.js';

export interface RequestSource {
  /** The client address (from the proxy header when configured). */
  ip: string;
  /** The signed-in user, or null. */
  userId: Id | null;
}
