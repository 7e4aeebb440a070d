-- Up Migration
-- The outbox of account events (src/domain/events.ts, docs/events.md): every
-- change writes its event in its own transaction, so a committed change always
-- has one and a rolled-back change none. `n` orders inserts; `id`, the event
-- id receivers see, is given by the one dispatcher (src/services/webhooks.ts)
-- to committed rows in the order they became visible, so a reader of the feed
-- that continues after the last id it saw never skips an event committed
-- late by a transaction that began early. `state`: pending (to deliver),
-- delivered, failed (retries given up: `admin events retry` resends).
CREATE TABLE events (
  n               bigserial PRIMARY KEY,
  id              bigint UNIQUE,
  type            text NOT NULL,
  user_id         bigint NOT NULL,
  data            jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- Retries go on until WEBHOOK_RETRY_HOURS after this (the write, or an `admin events retry|replay`).
  retry_from      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  last_error      text
);
CREATE INDEX events_unnumbered ON events (n) WHERE id IS NULL;
CREATE INDEX events_pending_by_user ON events (user_id, id) WHERE state = 'pending' AND id IS NOT NULL;
CREATE INDEX events_by_created ON events (created_at);

-- The last id given (one row): ids keep increasing after the rows holding them are pruned.
CREATE TABLE event_ids (
  one  boolean PRIMARY KEY DEFAULT true CHECK (one),
  last bigint NOT NULL
);
INSERT INTO event_ids (last) VALUES (0);

-- Down Migration
DROP TABLE event_ids;
DROP TABLE events;
