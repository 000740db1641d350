-- The tables the token endpoint writes on every grant, rebuilt for fewer page writes per
-- commit. Kept in step with migrations/sqlite/0009_token_write_path.sql.
--
-- refresh_tokens: keyed by the stored token key, which now starts with the token's creation
-- time (crates/gatehouse-core/src/token/opaque.rs), so new keys are appended to the right edge
-- of the primary-key index instead of landing on a random page (SQLite also makes the table
-- WITHOUT ROWID; PostgreSQL keeps a heap). Families still take their refresh tokens with them
-- when they are deleted.
CREATE TABLE refresh_tokens_v2 (
    token_hash      TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    parent_hash     TEXT,
    scope           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    used_at         BIGINT
);
INSERT INTO refresh_tokens_v2
    SELECT token_hash, family_id, parent_hash, scope, created_at, idle_expires_at, used_at
    FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_v2 RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- access_tokens: keyed by the time-ordered jti (or opaque token key); no index
-- by family and no cascade from it. A revoked family revokes its access tokens through the join
-- every read of an access token makes (token_families.revoked_at), not by marking each row, and
-- an access token goes when it expires (access_tokens_expires), which no family outlives.
CREATE TABLE access_tokens_v2 (
    id         TEXT PRIMARY KEY,
    family_id  TEXT,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO access_tokens_v2
    SELECT id, family_id, client_id, user_id, scope, auth_time, issued_at, expires_at, revoked
    FROM access_tokens;
DROP TABLE access_tokens;
ALTER TABLE access_tokens_v2 RENAME TO access_tokens;
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);
