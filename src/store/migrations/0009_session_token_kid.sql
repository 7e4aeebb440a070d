-- Up Migration
-- The signing key of each session's token, so retiring keys can tell whose
-- tokens it would end: `keys retire` keeps a key that live bots' tokens
-- depend on (a bot cannot sign in again by itself) and says so.
ALTER TABLE sessions ADD COLUMN token_kid text;

-- Down Migration
ALTER TABLE sessions DROP COLUMN token_kid;
