-- Up Migration
-- Email addresses are stored in one canonical form (src/domain/email.ts):
-- lowercase, ASCII local part, IDNA (xn--) domain. Lookups compare exactly.
--
-- ASCII addresses: their canonical form is lower(email). No two rows can
-- collide doing so: users_email_lower_key already kept lower(email) unique.
UPDATE users SET email = lower(email)
WHERE email IS NOT NULL AND email ~ '^[\x21-\x7e]+$' AND email <> lower(email);

-- Addresses that are still not in the canonical ASCII shape (a Unicode domain
-- to convert to xn--, or an address the new rule refuses, e.g. `x<v@host>`)
-- are finished at start by src/store/legacyEmails.ts, which has the IDNA
-- conversion Postgres lacks. It keeps an address that cannot be converted, or
-- whose converted form another account has, unchanged and logs its user id.
CREATE TABLE email_canonicalisation_pending (
  user_id  bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE
);
INSERT INTO email_canonicalisation_pending (user_id)
SELECT id FROM users
WHERE email IS NOT NULL
  AND email !~ '^[a-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&''*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';

-- Codes mailed before: same address, now in the stored spelling.
UPDATE email_codes c SET email = u.email
FROM users u
WHERE u.id = c.user_id AND lower(c.email) = lower(u.email) AND c.email <> u.email;

-- Exact, unique lookups on the canonical form.
DROP INDEX users_email_lower_key;
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE email IS NOT NULL;

-- Client IPs each account signed in from successfully (last 90 days are
-- used): a sign-in or reset request from one of them is the owner's network,
-- which a stranger's spent per-address limits do not lock out.
CREATE TABLE sign_in_sources (
  user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  ip         text NOT NULL,
  last_seen  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, ip)
);

-- Down Migration
DROP TABLE sign_in_sources;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email)) WHERE email IS NOT NULL;
DROP TABLE email_canonicalisation_pending;
