-- Up Migration
-- Registry of known client ids: Session.app_name is looked up here.
-- Operators add entries with `npm run admin -- apps add <client_id> <name>`.
CREATE TABLE client_apps (
  client_id   integer PRIMARY KEY CHECK (client_id >= 0),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE client_apps;
