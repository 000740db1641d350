-- Operations for many instances on one database. Kept in step with
-- migrations/postgres/0003_postgres_ops.sql (the same statements).
--
-- Indexes: every lookup path of 0001 is already indexed: clients by id (PRIMARY KEY), users by
-- username (UNIQUE) and by id (PRIMARY KEY), signing keys by kid (PRIMARY KEY). Tables added by
-- later migrations bring their own indexes.
--
-- Signing keys form a chain: `after_kid` names the key that was newest when this one was made
-- ('' for the first key). It is UNIQUE, so when two instances start together on an empty
-- database, or both decide to rotate, exactly one insert wins and the other re-reads the winner's
-- key instead of signing with a key its peers do not know. Keys added without a predecessor
-- (NULL) are not constrained.
ALTER TABLE signing_keys ADD COLUMN after_kid TEXT;
CREATE UNIQUE INDEX signing_keys_after_kid ON signing_keys (after_kid);
