/**
 * Account events: what other services learn of changes to accounts and
 * sessions, written to the outbox (migration 0013) in the transaction of the
 * change itself and delivered by signed webhooks and the feed
 * (docs/events.md). Every id in `data` is a decimal string.
 */
import type { Id } from './ids.js';

export const EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deletion_requested',
  'user.deletion_cancelled',
  'user.deleted',
  'session.created',
  'session.revoked',
  'password.changed',
  'totp.enabled',
  'totp.disabled',
  'membership.created',
  'bot.created',
  'bot.deleted',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Why a session ended (session.revoked's `reason`). */
export type RevokeReason = 'sign_out' | 'revoke' | 'password_change' | 'password_reset' | 'deletion' | 'bot_token_reset';

/** An event on its way into the outbox: its type, the user it is about (delivery is in order per user), its data. */
export interface NewEvent {
  type: EventType;
  userId: Id;
  data: Record<string, unknown>;
}

/** An event as delivered and listed: `id` increases in the order events became visible. */
export interface AccountEvent {
  id: Id;
  type: EventType;
  /** When the change committed its event (ISO 8601). */
  timestamp: string;
  data: Record<string, unknown>;
}

/** session.revoked events for sessions of one user. */
export function sessionsRevoked(userId: Id, sessionIds: readonly Id[], reason: RevokeReason): NewEvent[] {
  return sessionIds.map((sessionId) => ({ type: 'session.revoked', userId, data: { user_id: userId, session_id: sessionId, reason } }));
}

/** The body a webhook carries (the Standard Webhooks recommended shape); the event id travels as `webhook-id`. */
export function webhookBody(event: AccountEvent): string {
  return JSON.stringify({ type: event.type, timestamp: event.timestamp, data: { event_id: event.id, ...event.data } });
}
