-- Webhooks (issue 21): endpoints and their outbox. The trigger makes one pending delivery per
-- enabled endpoint whose filter names the event's kind (`events` is `*` or `,kind,kind,`) in
-- the statement, and so the transaction, that stores the event: no event without its
-- deliveries, no delivery without its event. A delivery is claimed by setting `lease_until`
-- (Unix ms) with FOR UPDATE SKIP LOCKED, so instances never claim the same one; `next_attempt_at`
-- and `created_at` are Unix ms too. Kept in step with the other back end's 0014_webhooks.sql.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    description     TEXT,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    failing_since   BIGINT,
    secret          BYTEA NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    webhook_id      TEXT NOT NULL,
    event_seq       BIGINT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (lease_until) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

CREATE FUNCTION gatehouse_webhook_outbox() RETURNS trigger AS $$
BEGIN
    INSERT INTO webhook_deliveries (webhook_id, event_seq, next_attempt_at, created_at)
    SELECT w.id, NEW.seq, NEW.at * 1000, NEW.at * 1000
    FROM webhooks w
    WHERE w.enabled AND (w.events = '*' OR strpos(w.events, ',' || NEW.kind || ',') > 0);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_webhook_outbox AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION gatehouse_webhook_outbox();

-- Off while no endpoint is enabled: the store switches it on in the transaction that enables
-- the first endpoint, and off again with the last (see sql/webhooks.rs, SYNC_OUTBOX_TRIGGER),
-- so that storing an event costs nothing extra while nobody listens.
ALTER TABLE events DISABLE TRIGGER events_webhook_outbox;
