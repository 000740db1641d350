//! The names and meaning of every metric gatehouse records, through the `metrics` facade: the
//! core only emits, and whoever installs a recorder (the binary, with a Prometheus exporter)
//! decides where they go. Without a recorder every call here is a no-op, so core tests need none.
//! Labels hold only fixed strings (endpoint paths, error codes), never request data.

use crate::rejection::Rejection;
use crate::Error;

/// Counter: HTTP requests, labels `endpoint` (the route pattern), `method`, `status`.
pub const HTTP_REQUESTS: &str = "gatehouse_http_requests_total";
/// Histogram (seconds): time to answer, labels as [`HTTP_REQUESTS`].
pub const HTTP_DURATION: &str = "gatehouse_http_request_duration_seconds";
/// Counter: token requests by `grant_type` and `result` (see [`grant_result`]).
pub const TOKEN_REQUESTS: &str = "gatehouse_token_requests_total";
/// Gauge: password hashes waiting for or holding a worker of the hash pool.
pub const HASH_QUEUE_DEPTH: &str = "gatehouse_password_hash_queue_depth";
/// Histogram (seconds): time a hash waited for a free worker.
pub const HASH_WAIT: &str = "gatehouse_password_hash_wait_seconds";
/// Histogram (seconds): time one argon2id hash or check took on its worker.
pub const HASH_DURATION: &str = "gatehouse_password_hash_duration_seconds";
/// Counter: requests the hash pool shed (queue full, or standing too long; answered 503).
pub const HASH_SHED: &str = "gatehouse_password_hash_shed_total";
/// Gauge: shed answers being held before they are sent.
pub const HASH_HELD: &str = "gatehouse_password_hash_shed_held";
/// Histogram (seconds): how long a shed answer was held before it was sent.
pub const HASH_HOLD: &str = "gatehouse_password_hash_shed_hold_seconds";
/// Counter, no labels: a refresh token presented again after it was rotated (RFC 9700 §4.14.2);
/// incremented through [`refresh_reuse_detected`].
pub const REFRESH_REUSE: &str = "gatehouse_refresh_reuse_detected_total";
/// Counter: requests refused before any credential was checked, label `reason` (one of
/// [`Rejection::ALL`]); incremented through [`request_rejected`].
pub const REQUESTS_REJECTED: &str = "gatehouse_requests_rejected_total";
/// Counter: questions to the breached-password range API, label `outcome` (one of
/// [`BREACHED_API_OUTCOMES`]: `hit`, `miss`, `error`, or `skipped` while its breaker is open).
pub const BREACHED_API_REQUESTS: &str = "gatehouse_breached_api_requests_total";
/// The values of [`BREACHED_API_REQUESTS`]'s `outcome` label.
pub const BREACHED_API_OUTCOMES: [&str; 4] = ["hit", "miss", "error", "skipped"];
/// Histogram (seconds): time the range API took to answer (or to fail).
pub const BREACHED_API_DURATION: &str = "gatehouse_breached_api_duration_seconds";
/// Gauge: 1 while the range API's circuit breaker is open (no requests sent), else 0.
pub const BREACHED_API_BREAKER_OPEN: &str = "gatehouse_breached_api_breaker_open";
/// Gauge: open database connections.
pub const DB_POOL_SIZE: &str = "gatehouse_db_pool_connections";
/// Gauge: idle database connections.
pub const DB_POOL_IDLE: &str = "gatehouse_db_pool_idle_connections";
/// Gauge: the pool's connection limit.
pub const DB_POOL_MAX: &str = "gatehouse_db_pool_max_connections";
/// Counter: logins whose right password was found wanting, labels `finding` (`common`,
/// `blocklist`, `online`: the breached list that held it; `expired`) and `action` (`flag`,
/// `block`).
pub const PASSWORD_FINDINGS: &str = "gatehouse_password_findings_total";
/// Counter: webhook delivery attempts, label `outcome` (`delivered`, `retry`: failed and due
/// again, `failed`: failed for good).
pub const WEBHOOK_ATTEMPTS: &str = "gatehouse_webhook_attempts_total";
/// Histogram: from an event to its delivery's success.
pub const WEBHOOK_LATENCY: &str = "gatehouse_webhook_delivery_latency_seconds";
/// Gauge: deliveries waiting in the outbox (pending).
pub const WEBHOOK_BACKLOG: &str = "gatehouse_webhook_backlog";
/// Gauge: deliveries whose every attempt failed, still in the outbox.
pub const WEBHOOK_FAILED: &str = "gatehouse_webhook_failed_deliveries";
/// Counter: endpoints the server disabled.
pub const WEBHOOK_DISABLED: &str = "gatehouse_webhook_endpoints_disabled_total";
/// Counter: mapped claims left out of a token or response (over the size bound, or a
/// registered claim), label `target` (`access_token`, `id_token`, `userinfo`, `introspection`).
pub const MAPPED_CLAIMS_DROPPED: &str = "gatehouse_mapped_claims_dropped_total";

/// Registers a description of every metric, and creates the counters that start at zero so they
/// appear before their first event.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by endpoint, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "time to answer an HTTP request"
    );
    describe_counter!(TOKEN_REQUESTS, "token requests by grant_type and result");
    describe_gauge!(
        HASH_QUEUE_DEPTH,
        "password hashes waiting for or holding a worker"
    );
    describe_histogram!(HASH_WAIT, Unit::Seconds, "time a hash waited for a worker");
    describe_histogram!(HASH_DURATION, Unit::Seconds, "time one argon2id hash took");
    describe_counter!(
        HASH_SHED,
        "requests the hash pool shed: queue full, or standing too long"
    );
    describe_gauge!(HASH_HELD, "shed answers being held before they are sent");
    describe_histogram!(
        HASH_HOLD,
        Unit::Seconds,
        "how long a shed answer was held before it was sent"
    );
    describe_counter!(REFRESH_REUSE, "rotated refresh tokens presented again");
    describe_gauge!(DB_POOL_SIZE, "open database connections");
    describe_gauge!(DB_POOL_IDLE, "idle database connections");
    describe_gauge!(DB_POOL_MAX, "the database pool's connection limit");
    describe_counter!(
        REQUESTS_REJECTED,
        "requests refused before any credential check, by reason"
    );
    describe_counter!(
        BREACHED_API_REQUESTS,
        "questions to the breached-password range API, by outcome"
    );
    describe_histogram!(
        BREACHED_API_DURATION,
        Unit::Seconds,
        "time the breached-password range API took to answer"
    );
    describe_gauge!(
        BREACHED_API_BREAKER_OPEN,
        "1 while the range API's circuit breaker is open"
    );
    describe_counter!(WEBHOOK_ATTEMPTS, "webhook delivery attempts, by outcome");
    describe_histogram!(
        WEBHOOK_LATENCY,
        Unit::Seconds,
        "time from an event to its webhook delivery's success"
    );
    describe_gauge!(WEBHOOK_BACKLOG, "webhook deliveries waiting in the outbox");
    describe_gauge!(
        WEBHOOK_FAILED,
        "webhook deliveries whose every attempt failed, kept until the retention ends"
    );
    describe_counter!(
        WEBHOOK_DISABLED,
        "webhook endpoints disabled by the server (failing too long, or 410 Gone)"
    );
    for outcome in ["delivered", "retry", "failed"] {
        metrics::counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).absolute(0);
    }
    metrics::counter!(WEBHOOK_DISABLED).absolute(0);
    describe_counter!(
        MAPPED_CLAIMS_DROPPED,
        "mapped claims left out of a token or response: over the size bound, or registered"
    );
    metrics::counter!(REFRESH_REUSE).absolute(0);
    metrics::counter!(HASH_SHED).absolute(0);
    for reason in Rejection::ALL {
        metrics::counter!(REQUESTS_REJECTED, "reason" => reason.as_str()).absolute(0);
    }
    metrics::gauge!(HASH_QUEUE_DEPTH).set(0.0);
    metrics::gauge!(HASH_HELD).set(0.0);
}

/// Call when a rotated refresh token is presented again (the family is then revoked).
pub fn refresh_reuse_detected() {
    metrics::counter!(REFRESH_REUSE).increment(1);
}

/// Call when `count` mapped claims were left out of a token or response for `target`.
pub fn mapped_claims_dropped(target: &'static str, count: usize) {
    metrics::counter!(MAPPED_CLAIMS_DROPPED, "target" => target).increment(count as u64);
}

/// Call when a request is refused before any credential is checked.
pub fn request_rejected(reason: Rejection) {
    metrics::counter!(REQUESTS_REJECTED, "reason" => reason.as_str()).increment(1);
}

/// The `result` label of a token request: `success`, or the error code, except that a wrong
/// password and an unknown user (both `invalid_grant` on the wire, RFC 6749 §5.2) are counted
/// as `invalid_credentials`, and a shed request as `overloaded`.
pub fn grant_result<T>(result: &Result<T, Error>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(Error::InvalidGrant(_)) => "invalid_credentials",
        Err(Error::Overloaded { .. }) => "overloaded",
        Err(err) => err.code(),
    }
}

/// Records one token request.
pub fn record_token_request<T>(grant_type: &'static str, result: &Result<T, Error>) {
    metrics::counter!(TOKEN_REQUESTS, "grant_type" => grant_type, "result" => grant_result(result))
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_password_and_unknown_user_share_one_result_label() {
        let bad: Result<(), Error> = Err(Error::InvalidGrant("bad".into()));
        assert_eq!(grant_result(&bad), "invalid_credentials");
        let client: Result<(), Error> = Err(Error::InvalidClient {
            method: crate::error::AuthMethod::Basic,
            description: "x".into(),
        });
        assert_eq!(grant_result(&client), "invalid_client");
        let shed: Result<(), Error> = Err(Error::overloaded());
        assert_eq!(grant_result(&shed), "overloaded");
        assert_eq!(grant_result(&Ok::<(), Error>(())), "success");
    }
}
