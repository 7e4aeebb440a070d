-- Up Migration
-- A user removed from Postgres (by the account purge, or by hand) takes its
-- sessions with it (ON DELETE CASCADE). Before they go, every gateway
-- instance is told their ids on the channel `osmium_sessions_ended` (comma
-- separated, at most 400 per notification), so it tombstones them in the
-- session cache and closes their sockets. NOTIFY is delivered at COMMIT: a
-- rolled-back delete tells nobody.
CREATE FUNCTION osmium_sessions_ended_with_user() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  chunk text;
BEGIN
  FOR chunk IN
    SELECT string_agg(id::text, ',')
    FROM (SELECT id, (row_number() OVER ()) / 400 AS part FROM sessions WHERE user_id = OLD.id AND revoked_at IS NULL) s
    GROUP BY part
  LOOP
    PERFORM pg_notify('osmium_sessions_ended', chunk);
  END LOOP;
  RETURN OLD;
END
$$;
CREATE TRIGGER users_removed_end_sessions BEFORE DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION osmium_sessions_ended_with_user();

-- Down Migration
DROP TRIGGER users_removed_end_sessions ON users;
DROP FUNCTION osmium_sessions_ended_with_user();
