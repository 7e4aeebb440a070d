/** The security events of the audit trail (table `audit_events`, append-only). */
import type { DeviceInfo, Geo } from './device.js';
import type { Id } from './ids.js';

/** Every kind of event, as stored in `audit_events.kind` (stable: operators query them). */
export const AuditKind = {
  SIGN_IN: 'sign_in',
  SIGN_IN_FAILED: 'sign_in_failed',
  NEW_DEVICE: 'new_device',
  PASSWORD_CHANGED: 'password_changed',
  PASSWORD_RESET: 'password_reset',
  EMAIL_CHANGE_REQUESTED: 'email_change_requested',
  EMAIL_CHANGE_CONFIRMED: 'email_change_confirmed',
  TOTP_ENABLED: 'totp_enabled',
  TOTP_DISABLED: 'totp_disabled',
  BACKUP_CODE_USED: 'backup_code_used',
  SESSIONS_REVOKED: 'sessions_revoked',
  DELETION_REQUESTED: 'deletion_requested',
  DELETION_CANCELLED: 'deletion_cancelled',
  ACCOUNT_PURGED: 'account_purged',
} as const;
export type AuditKindValue = (typeof AuditKind)[keyof typeof AuditKind];

/** Where an event came from: the session, address and device of the request (all unknown for the purge). */
export interface AuditOrigin {
  sessionId: Id | null;
  ip: string | null;
  device: DeviceInfo | null;
  geo: Geo;
}

/** An origin-less event (the purge, run by the gateway itself). */
export const SYSTEM_ORIGIN: AuditOrigin = Object.freeze({ sessionId: null, ip: null, device: null, geo: Object.freeze({}) });

/** What an event adds to its kind: small, never a secret (no password, code or token). */
export type AuditDetail = Record<string, string | number | boolean | null>;

export interface AuditEvent {
  id: Id;
  userId: Id;
  at: Date;
  kind: AuditKindValue;
  origin: AuditOrigin;
  detail: AuditDetail;
}
