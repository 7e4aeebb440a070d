-- Up Migration
-- Communities, their channels and members. Communities are created by the
-- admin CLI for now; a community starts with one text channel and its owner
-- as a member.
CREATE TABLE communities (
  id          bigint PRIMARY KEY,
  name        text NOT NULL,
  owner_id    bigint NOT NULL REFERENCES users (id),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX communities_by_owner ON communities (owner_id);

CREATE TABLE channels (
  id            bigint PRIMARY KEY,
  community_id  bigint NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
  name          text NOT NULL,
  kind          text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'voice')),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_by_community ON channels (community_id);

CREATE TABLE community_members (
  community_id  bigint NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
  user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  joined_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (community_id, user_id)
);
CREATE INDEX community_members_by_user ON community_members (user_id);

-- Group chats and their participants.
CREATE TABLE groups (
  id          bigint PRIMARY KEY,
  name        text NOT NULL,
  owner_id    bigint NOT NULL REFERENCES users (id),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX groups_by_owner ON groups (owner_id);

CREATE TABLE group_participants (
  group_id   bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  joined_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_participants_by_user ON group_participants (user_id);

-- Friendships are symmetric: each pair is stored once, lower id first, so the
-- primary key makes "already friends" a conflict even when both users accept
-- each other's invites at the same moment.
CREATE TABLE friendships (
  user_low    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  user_high   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_low, user_high),
  CHECK (user_low < user_high)
);
CREATE INDEX friendships_by_high ON friendships (user_high);

-- Invites. target_type follows auth.InviteType: 1 COMMUNITY, 2 GROUP, 3 USER
-- (target_id is then the creator: an invite to befriend them). expires_at is
-- Unix ms, NULL = never; max_uses 0 = unlimited. Deleted invites are kept
-- (deleted_at set) so a deleted code is never handed out again.
CREATE TABLE invites (
  code         text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{10}$'),
  creator_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  target_type  smallint NOT NULL CHECK (target_type IN (1, 2, 3)),
  target_id    bigint NOT NULL,
  expires_at   bigint,
  max_uses     integer NOT NULL DEFAULT 0 CHECK (max_uses >= 0),
  uses         integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);
-- listChatInvites: the undeleted invites of one target, newest first.
CREATE INDEX invites_live_by_target ON invites (target_type, target_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX invites_by_creator ON invites (creator_id);

-- Down Migration
DROP TABLE invites;
DROP TABLE friendships;
DROP TABLE group_participants;
DROP TABLE groups;
DROP TABLE community_members;
DROP TABLE channels;
DROP TABLE communities;
