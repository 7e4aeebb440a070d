-- Up Migration
-- Account security (issue 14): TOTP two-factor, email changes, recent
-- sign-in, account deletion, new-device alerts and the audit trail.

-- Deletion: requested (grace period running) and purged (the row stays as a
-- tombstone without email, password or name, so the ids other rows and the
-- audit trail refer to keep meaning "a deleted account").
ALTER TABLE users
  ADD COLUMN delete_requested_at timestamptz,
  ADD COLUMN deleted_at timestamptz;
-- The purge's work list: accounts waiting for their grace period to end.
CREATE INDEX users_pending_delete ON users (delete_requested_at)
  WHERE delete_requested_at IS NOT NULL AND deleted_at IS NULL;

-- When the session last proved the password (sign-in, sign-up, a password
-- change): the recent sign-in rule of the sensitive settings. An Authorize of
-- the session's token never moves it. Sessions from before this migration
-- keep NULL (read as their creation time, which was their sign-in); the
-- default is set separately so that they do not all look signed in now.
ALTER TABLE sessions ADD COLUMN authenticated_at timestamptz;
ALTER TABLE sessions ALTER COLUMN authenticated_at SET DEFAULT now();

-- TOTP (RFC 6238). One row per account: `secret` is the 160-bit secret,
-- encrypted with TOTP_ENCRYPTION_KEY (AES-256-GCM envelope, see
-- src/services/secretBox.ts); enabled_at NULL means a pending secret that
-- waits for its first code. last_step is the highest time step accepted: a
-- code at or below it is refused, so a code works once.
CREATE TABLE totp_credentials (
  user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret      text NOT NULL,
  enabled_at  timestamptz,
  last_step   bigint NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Backup codes: 10 per account, shown once, kept only as salted SHA-256.
CREATE TABLE totp_backup_codes (
  user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  position   smallint NOT NULL CHECK (position BETWEEN 0 AND 99),
  salt       bytea NOT NULL,
  code_hash  bytea NOT NULL,
  used_at    timestamptz,
  PRIMARY KEY (user_id, position)
);

-- Email change: a code mailed to the new address (the row's email), confirmed
-- with auth.verifyEmail{email: new address, code}.
ALTER TABLE email_codes DROP CONSTRAINT email_codes_purpose_check;
ALTER TABLE email_codes ADD CONSTRAINT email_codes_purpose_check
  CHECK (purpose IN ('verify_email', 'reset_password', 'change_email'));
CREATE INDEX email_codes_change_by_address ON email_codes (lower(email)) WHERE purpose = 'change_email';

-- Devices an account has signed in from (client id, device type, country or
-- '' when unknown): a sign-in from a new one mails the owner.
CREATE TABLE known_devices (
  user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  client_id    integer NOT NULL,
  device_type  text NOT NULL,
  country      text NOT NULL DEFAULT '',
  first_seen   timestamptz NOT NULL DEFAULT now(),
  last_seen    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, client_id, device_type, country)
);

-- The audit trail of security events. Append-only: rows are inserted, and
-- deleted only by the retention prune (AUDIT_RETENTION_DAYS); an UPDATE is
-- refused by the trigger below. No foreign key: the trail outlives the
-- account's other rows (a purge is itself an event).
CREATE TABLE audit_events (
  id              bigint PRIMARY KEY,
  user_id         bigint NOT NULL,
  at              timestamptz NOT NULL DEFAULT now(),
  kind            text NOT NULL,
  session_id      bigint,
  ip              text,
  client_id       integer,
  device_type     text,
  device_version  text,
  app_version     text,
  country         text,
  region          text,
  detail          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_user ON audit_events (user_id, at DESC, id DESC);
CREATE INDEX audit_events_by_time ON audit_events (at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Down Migration
DROP TRIGGER audit_events_no_update ON audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE audit_events;
DROP TABLE known_devices;
DROP INDEX email_codes_change_by_address;
DELETE FROM email_codes WHERE purpose = 'change_email';
ALTER TABLE email_codes DROP CONSTRAINT email_codes_purpose_check;
ALTER TABLE email_codes ADD CONSTRAINT email_codes_purpose_check CHECK (purpose IN ('verify_email', 'reset_password'));
DROP TABLE totp_backup_codes;
DROP TABLE totp_credentials;
ALTER TABLE sessions DROP COLUMN authenticated_at;
DROP INDEX users_pending_delete;
ALTER TABLE users DROP COLUMN deleted_at, DROP COLUMN delete_requested_at;
