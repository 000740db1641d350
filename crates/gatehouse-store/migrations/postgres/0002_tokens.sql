-- Refresh-token families, refresh tokens, issued access tokens, and sealed client secrets.
-- Kept in step with migrations/sqlite/0002_tokens.sql: only type names differ (BYTEA / BLOB).
-- Tokens are stored only as SHA-256 hashes; JWT access tokens by their jti.
ALTER TABLE clients ADD COLUMN secret_sealed BYTEA;

CREATE TABLE token_families (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    parent_hash     TEXT,
    scope           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE access_tokens (
    id         TEXT PRIMARY KEY,
    family_id  TEXT REFERENCES token_families (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);
