-- Up Migration
-- The backlog the dispatcher reports on /metrics (src/services/webhooks.ts:
-- how many events are pending, how old the oldest is) read from a small
-- partial index instead of a scan of every delivered event kept for
-- EVENT_RETENTION_DAYS. Rows leave it once delivered or failed.
CREATE INDEX events_pending_by_created ON events (created_at) WHERE state = 'pending';

-- Down Migration
DROP INDEX events_pending_by_created;
