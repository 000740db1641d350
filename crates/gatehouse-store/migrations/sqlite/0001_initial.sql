-- Clients, users and signing keys. Kept in step with migrations/postgres/0001_initial.sql:
-- the only differences are the types each database names differently (BLOB / BYTEA).
CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    email         TEXT,
    phone         TEXT,
    scopes        TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_der BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);
