-- Up Migration
-- Every revocation, by any writer (a gateway, the admin CLI), is announced on
-- the channel `osmium_sessions_ended` too (ids comma separated, at most 400
-- per notification), so every gateway instance tombstones the sessions and
-- closes their sockets even when the revocation did not come through Redis:
-- the admin CLI, the embedded mode, or Redis being down. Delivered at COMMIT.
CREATE FUNCTION osmium_sessions_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  chunk text;
BEGIN
  FOR chunk IN
    SELECT string_agg(n.id::text, ',')
    FROM (
      SELECT n.id, (row_number() OVER ()) / 400 AS part
      FROM revoked_new n JOIN revoked_old o ON o.id = n.id
      WHERE o.revoked_at IS NULL AND n.revoked_at IS NOT NULL
    ) n
    GROUP BY n.part
  LOOP
    PERFORM pg_notify('osmium_sessions_ended', chunk);
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER sessions_revoked_notify AFTER UPDATE ON sessions
  REFERENCING OLD TABLE AS revoked_old NEW TABLE AS revoked_new
  FOR EACH STATEMENT EXECUTE FUNCTION osmium_sessions_revoked();

-- Down Migration
DROP TRIGGER sessions_revoked_notify ON sessions;
DROP FUNCTION osmium_sessions_revoked();
