-- Up Migration
-- Users. Ids are snowflakes (see src/services/snowflake.ts). Email is unique
-- without regard to case; guests have neither email nor password.
CREATE TABLE users (
  id              bigint PRIMARY KEY,
  name            text NOT NULL,
  email           text,
  email_verified  boolean NOT NULL DEFAULT false,
  password_hash   text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email)) WHERE email IS NOT NULL;

-- Sessions. Postgres is the record; Redis only caches validity and activity.
-- last_active is Unix milliseconds, written in batches.
CREATE TABLE sessions (
  id              bigint PRIMARY KEY,
  user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  client_id       integer NOT NULL DEFAULT 0,
  device_type     text NOT NULL DEFAULT '',
  device_version  text NOT NULL DEFAULT '',
  app_version     text NOT NULL DEFAULT '',
  country         text,
  region          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_active     bigint NOT NULL,
  revoked_at      timestamptz
);
CREATE INDEX sessions_live_by_user ON sessions (user_id, last_active DESC) WHERE revoked_at IS NULL;

-- JWT signing keys (HS256). The newest unretired key signs; every unretired key verifies.
CREATE TABLE signing_keys (
  kid         text PRIMARY KEY,
  secret      bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  retired_at  timestamptz
);

-- Snowflake worker id leases, so instances never share a worker id.
CREATE TABLE worker_leases (
  worker_id   integer PRIMARY KEY CHECK (worker_id BETWEEN 0 AND 1023),
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);

-- Down Migration
DROP TABLE worker_leases;
DROP TABLE signing_keys;
DROP TABLE sessions;
DROP TABLE users;
