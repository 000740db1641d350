-- External user stores (issue 22): the store (LDAP directory, HTTP credential check) a user came
-- from, by its configured name; NULL for users created here. A user whose password_hash is the
-- marker '!external' is still checked by that store at every login; any other hash means the
-- password was migrated (or set here since). Kept in step with the other back end's
-- 0016_user_stores.sql.
ALTER TABLE users ADD COLUMN store TEXT;
CREATE INDEX users_store ON users (store) WHERE store IS NOT NULL;
