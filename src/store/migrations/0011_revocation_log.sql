-- Up Migration
-- The log of every session that ended (revoked by any writer, or deleted with
-- its user), so that a live state that fell behind Postgres can catch up:
-- Redis restored from an older snapshot, or a subscriber that missed
-- messages. Each row carries the id of the transaction that ended the session
-- (xid8): a reader that has seen every row at or above some transaction id
-- `h` up to the oldest transaction still running when it read
-- (pg_snapshot_xmin) may continue from that horizon next time, without
-- missing a transaction that started earlier and committed later, which a
-- sequence or a timestamp could not promise. Rows are pruned once older than
-- any cache entry can be (src/services/revocations.ts).
CREATE TABLE session_revocations (
  session_id  bigint NOT NULL,
  xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_revocations_by_xid ON session_revocations (xid);
CREATE INDEX session_revocations_by_time ON session_revocations (at);

CREATE FUNCTION osmium_log_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO session_revocations (session_id)
  SELECT n.id FROM revoked_new n JOIN revoked_old o ON o.id = n.id
  WHERE o.revoked_at IS NULL AND n.revoked_at IS NOT NULL;
  RETURN NULL;
END
$$;
CREATE TRIGGER sessions_revoked_log AFTER UPDATE ON sessions
  REFERENCING OLD TABLE AS revoked_old NEW TABLE AS revoked_new
  FOR EACH STATEMENT EXECUTE FUNCTION osmium_log_revoked();

CREATE FUNCTION osmium_log_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO session_revocations (session_id) SELECT id FROM deleted_old WHERE revoked_at IS NULL;
  RETURN NULL;
END
$$;
CREATE TRIGGER sessions_deleted_log AFTER DELETE ON sessions
  REFERENCING OLD TABLE AS deleted_old
  FOR EACH STATEMENT EXECUTE FUNCTION osmium_log_deleted();

-- Down Migration
DROP TRIGGER sessions_deleted_log ON sessions;
DROP FUNCTION osmium_log_deleted();
DROP TRIGGER sessions_revoked_log ON sessions;
DROP FUNCTION osmium_log_revoked();
DROP TABLE session_revocations;
