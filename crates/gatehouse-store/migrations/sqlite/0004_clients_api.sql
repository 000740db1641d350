-- Issue 4: RFC 7523 assertion replay protection and Aidbox's one-time password codes. Kept in
-- step with migrations/postgres/0004_clients_api.sql (no type differs).

-- Every accepted client-assertion `jti`, until the assertion expires (RFC 7523 §3 item 7).
CREATE TABLE assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_expires_at ON assertion_jtis (expires_at);

-- One-time codes of the secure code flow, stored as the SHA-256 of the code.
CREATE TABLE password_codes (
    code_hash  TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_codes_expires_at ON password_codes (expires_at);
