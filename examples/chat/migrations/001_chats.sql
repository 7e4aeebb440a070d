-- The chat example's tables, in its own schema (DATABASE_SCHEMA, default
-- chat_example; src/migrate.ts sets search_path), so it can share the
-- gateway's database or use another. Users are the gateway's: only their ids
-- appear here.

-- Snowflake ids made by Postgres, so any number of backend instances need no
-- worker ids: 41 bits of milliseconds since 2024-01-01 (the gateway's epoch:
-- its ids and these sort together), then 22 bits of a shared sequence (4M ids
-- a millisecond before the low bits wrap).
CREATE SEQUENCE id_sequence;
CREATE FUNCTION next_id() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT ((floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint - 1704067200000) << 22) | (nextval('id_sequence') % 4194304)
$$;
-- The function finds id_sequence in this schema whatever the caller's search_path.
ALTER FUNCTION next_id() SET search_path FROM CURRENT;

-- A chat: a direct one between two users (kind 1; the same user twice is their
-- saved messages) or a group (kind 2, whose id is types.Group.id).
CREATE TABLE chats (
  id              bigint PRIMARY KEY DEFAULT next_id(),
  kind            smallint NOT NULL CHECK (kind IN (1, 2)),
  name            text,
  owner_id        bigint,
  user_low        bigint,
  user_high       bigint,
  -- Conversation.last_message_id: the chat's own id until its first message (the sort key of getChats).
  last_message_id bigint NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (kind = 1 AND user_low IS NOT NULL AND user_high IS NOT NULL AND user_low <= user_high
      OR kind = 2 AND name IS NOT NULL AND owner_id IS NOT NULL AND user_low IS NULL AND user_high IS NULL),
  UNIQUE (user_low, user_high)
);

-- Who is in a chat: both users of a direct chat, every participant of a group.
CREATE TABLE chat_members (
  chat_id   bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  user_id   bigint NOT NULL,
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chat_id, user_id)
);
-- getChats: a user's chats.
CREATE INDEX chat_members_by_user ON chat_members (user_id, chat_id);
-- getChats pages by last message, newest first.
CREATE INDEX chats_by_last_message ON chats (last_message_id DESC);

CREATE TABLE messages (
  id         bigint PRIMARY KEY DEFAULT next_id(),
  chat_id    bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  author_id  bigint NOT NULL,
  body       text NOT NULL,
  -- SendMessage.client_id: a resend with the same one in the same chat is the same message.
  client_id  bigint,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- getHistory: a chat's messages by id (= by time).
CREATE INDEX messages_by_chat ON messages (chat_id, id);
CREATE UNIQUE INDEX messages_by_client_id ON messages (chat_id, author_id, client_id) WHERE client_id IS NOT NULL;
