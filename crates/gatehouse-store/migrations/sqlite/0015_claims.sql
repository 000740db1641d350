-- Custom token claims (issue 21): each user's attributes (a JSON object, at most 32 keys and
-- 4 KiB, checked by the core) and roles (a JSON array of distinct names), read with the user row
-- so that issuing a token with mapped claims costs no query. Clients' claim mappers live in
-- their settings document and need no column. Kept in step with the other back end's
-- 0015_claims.sql.
ALTER TABLE users ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
