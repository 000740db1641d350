-- Issue 6: brute-force counters, the per-address throttle and audit events. Kept in step with
-- migrations/postgres/0006_security.sql (only the events sequence type differs).

-- Login attempts per account ('user:<id>' or 'client:<id>'): compare-and-swap on `version`.
CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    last_failure BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    version      BIGINT NOT NULL
);

-- Failed logins per client address, as a leaky bucket: `drained_at` is when it is empty again.
CREATE TABLE source_failures (
    ip         TEXT PRIMARY KEY,
    drained_at BIGINT NOT NULL
);
CREATE INDEX source_failures_drained_at ON source_failures (drained_at);

-- The audit trail. `detail` is a JSON object; no secret is ever written here.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    client_id  TEXT,
    username   TEXT,
    ip         TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_username ON events (username, at);
