-- Up Migration
-- One-time codes mailed to a user's address: email verification and password
-- reset. One row per (user, purpose): issuing a new code overwrites the row,
-- which retires the previous code. Only a hash of the code is kept (see
-- src/services/codes.ts). A used row stays (used_at set) until the next code,
-- so a second use is refused like any other bad code.
CREATE TABLE email_codes (
  user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose          text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
  -- The address the code was mailed to: the code proves ownership of this one.
  email            text NOT NULL,
  salt             bytea NOT NULL,
  code_hash        bytea NOT NULL,
  expires_at       timestamptz NOT NULL,
  failed_attempts  integer NOT NULL DEFAULT 0,
  used_at          timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, purpose)
);

-- Down Migration
DROP TABLE email_codes;
