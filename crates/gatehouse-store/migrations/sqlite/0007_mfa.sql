-- Issue 9: second factors (TOTP, recovery codes), mfa_tokens and the per-user bucket of wrong
-- codes. Kept in step with migrations/postgres/0007_mfa.sql (only BLOB / BYTEA differ).

-- At most one factor of each kind per user. TOTP secrets are sealed under the server key;
-- recovery codes are kept as their SHA-256 only.
CREATE TABLE mfa_authenticators (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    secret_sealed BLOB,
    code_hash     TEXT,
    active        BOOLEAN NOT NULL DEFAULT FALSE,
    last_step     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    UNIQUE (user_id, kind)
);

-- mfa_tokens by their SHA-256: a login waiting for its second factor.
CREATE TABLE mfa_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX mfa_tokens_expires_at ON mfa_tokens (expires_at);

-- Wrong codes per user, as a leaky bucket: `drained_at` is when it is empty again.
CREATE TABLE mfa_failures (
    user_id    TEXT PRIMARY KEY,
    drained_at BIGINT NOT NULL
);
CREATE INDEX mfa_failures_drained_at ON mfa_failures (drained_at);
