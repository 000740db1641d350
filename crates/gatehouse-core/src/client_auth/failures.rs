//! Failed client authentications, for the operator: each is logged at debug level with its
//! reason, and recorded as a `client_auth_failure` audit event, at most one per address and
//! reason within a window, so that a flood from one address writes one row per window rather
//! than one per request. The next event of the same address and reason says how many failures
//! in between were not recorded (`detail.repeats`). The client id in the event is the one sent,
//! cut to 128 characters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::client_assertion::AssertionFailure;
use crate::clock::Clock;

/// Seconds within which one address's failures of one reason make one event.
pub const EVENT_WINDOW: i64 = 60;
/// Addresses and reasons remembered at once; while all are recent, new ones write no event.
const CAPACITY: usize = 1024;
/// The longest client id kept in an event, in characters (the longest valid one).
const MAX_CLIENT_ID: usize = 128;

/// Why a client failed to authenticate: a fixed set, recorded as `detail.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// No client has the id sent.
    UnknownClient,
    /// The secret is not the client's (or the client has none).
    WrongSecret,
    /// The client needs a secret or an assertion and sent neither.
    SecretRequired,
    /// The client used another method than its `token_endpoint_auth_method`.
    MethodNotAllowed,
    /// An assertion was sent but assertions are not accepted.
    AssertionsOff,
    /// An assertion failed a check.
    Assertion(AssertionFailure),
}

impl FailureReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::UnknownClient => "unknown_client",
            FailureReason::WrongSecret => "wrong_secret",
            FailureReason::SecretRequired => "secret_required",
            FailureReason::MethodNotAllowed => "method_not_allowed",
            FailureReason::AssertionsOff => "assertion_not_accepted",
            FailureReason::Assertion(failure) => failure.as_str(),
        }
    }
}

/// Logs failed client authentications and records them, aggregated, as audit events.
pub(super) struct FailureLog {
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    recent: Mutex<RecentFailures>,
}

impl FailureLog {
    pub(super) fn new(audit: Arc<AuditLog>, clock: Arc<dyn Clock>) -> Self {
        FailureLog {
            audit,
            clock,
            recent: Mutex::new(RecentFailures::default()),
        }
    }

    /// Logs one failure of `client_id` (as sent) from `ctx`, and records it unless the same
    /// address failed for the same reason within the window.
    pub(super) async fn record(
        &self,
        ctx: &RequestContext,
        client_id: &str,
        reason: FailureReason,
    ) {
        let client_id = capped(client_id);
        let name = reason.as_str();
        tracing::debug!(reason = name, client_id, ip = ?ctx.ip, "client authentication failed");
        let repeats = match self.recent.lock() {
            Ok(mut recent) => recent.admit(ctx.ip, name, self.clock.now()),
            Err(_) => None,
        };
        let Some(repeats) = repeats else {
            return;
        };
        let detail = json!({ "reason": name, "repeats": repeats });
        let about = EventSubject::client(client_id);
        self.audit
            .record(EventKind::ClientAuthFailure, ctx, about, detail)
            .await;
    }
}

/// When each (address, reason) last made an event, and how many failures came since.
#[derive(Default)]
struct RecentFailures {
    entries: HashMap<(Option<IpAddr>, &'static str), Recent>,
}

struct Recent {
    recorded_at: i64,
    repeats: u64,
}

impl RecentFailures {
    /// `Some(n)` when a failure at `now` makes an event (`n` failures since the previous one
    /// made none); `None` when one was made within the window, or the memory is full of
    /// recent entries.
    fn admit(&mut self, ip: Option<IpAddr>, reason: &'static str, now: i64) -> Option<u64> {
        let fresh = |r: &Recent| now.saturating_sub(r.recorded_at) < EVENT_WINDOW;
        if let Some(recent) = self.entries.get_mut(&(ip, reason)) {
            if fresh(recent) {
                recent.repeats = recent.repeats.saturating_add(1);
                return None;
            }
            let repeats = recent.repeats;
            *recent = Recent {
                recorded_at: now,
                repeats: 0,
            };
            return Some(repeats);
        }
        if self.entries.len() >= CAPACITY {
            self.entries.retain(|_, r| fresh(r));
            if self.entries.len() >= CAPACITY {
                return None;
            }
        }
        let recent = Recent {
            recorded_at: now,
            repeats: 0,
        };
        self.entries.insert((ip, reason), recent);
        Some(0)
    }
}

/// `id` cut to [`MAX_CLIENT_ID`] characters.
fn capped(id: &str) -> &str {
    match id.char_indices().nth(MAX_CLIENT_ID) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    #[test]
    fn one_event_per_address_and_reason_per_window_with_the_count_in_between() {
        let mut recent = RecentFailures::default();
        let a: Option<IpAddr> = "192.0.2.1".parse().ok();
        let b: Option<IpAddr> = "192.0.2.2".parse().ok();
        assert_eq!(recent.admit(a, "wrong_secret", T0), Some(0));
        for i in 0..199 {
            assert_eq!(recent.admit(a, "wrong_secret", T0 + i % EVENT_WINDOW), None);
        }
        assert_eq!(recent.admit(a, "unknown_client", T0), Some(0));
        assert_eq!(recent.admit(b, "wrong_secret", T0), Some(0));
        assert_eq!(
            recent.admit(a, "wrong_secret", T0 + EVENT_WINDOW),
            Some(199)
        );
    }

    #[test]
    fn the_memory_is_bounded_and_makes_room_as_entries_age() {
        let mut recent = RecentFailures::default();
        for i in 0..CAPACITY {
            let ip = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            assert_eq!(recent.admit(Some(ip), "wrong_secret", T0), Some(0));
        }
        let late: Option<IpAddr> = "192.0.2.9".parse().ok();
        assert_eq!(recent.admit(late, "wrong_secret", T0 + 1), None);
        assert_eq!(recent.entries.len(), CAPACITY);
        assert_eq!(
            recent.admit(late, "wrong_secret", T0 + EVENT_WINDOW),
            Some(0)
        );
        assert_eq!(recent.entries.len(), 1);
    }

    #[test]
    fn client_ids_are_capped_on_a_character_boundary() {
        let long = "é".repeat(300);
        assert_eq!(capped(&long).chars().count(), MAX_CLIENT_ID);
        assert_eq!(capped("app"), "app");
    }
}
