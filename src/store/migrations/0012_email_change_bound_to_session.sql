-- Up Migration
-- An email change is confirmed only from the session that asked for it
-- (src/services/accountEmail.ts): the code alone, mailed to the new address,
-- no longer moves the account. Changes pending from before this migration
-- have no session, so they can no longer be confirmed (they would have
-- expired within 30 minutes anyway): the owner asks again.
ALTER TABLE email_codes ADD COLUMN session_id bigint;

-- Down Migration
ALTER TABLE email_codes DROP COLUMN session_id;
