-- Up Migration
-- Bot accounts (issue 18): a bot is a user with bot = true, owned by a person.
-- types.User.bot is read from here; the Authorize cache carries it too.
ALTER TABLE users
  ADD COLUMN bot boolean NOT NULL DEFAULT false,
  ADD COLUMN bot_owner_id bigint REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX users_bots_by_owner ON users (bot_owner_id) WHERE bot;

-- Down Migration
DROP INDEX users_bots_by_owner;
ALTER TABLE users DROP COLUMN bot_owner_id, DROP COLUMN bot;
