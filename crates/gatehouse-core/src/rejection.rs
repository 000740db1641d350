//! Requests refused before any credential is checked (an address over the login throttle, a
//! user over the wrong-code bucket, a login shed under overload). Such a request must cost
//! nothing that lasts, or a flood of them fills the disk: [`Rejections`] counts each one in the
//! metric [`REQUESTS_REJECTED`](crate::telemetry::REQUESTS_REJECTED) (a fixed label set) and
//! lets [`AuditLog`](crate::audit::AuditLog) write at most one aggregated event per bucket
//! (address or user) and window, carrying the number of rejections since the previous event of
//! that bucket. The windows are kept in memory, at most [`MAX_TRACKED`] of them; past that,
//! windows that ended are dropped and, if none did, new buckets share one overflow window per
//! reason, so a flood of distinct addresses cannot grow memory without bound.

use std::collections::HashMap;
use std::sync::Mutex;

/// Seconds of the window in which a bucket gets at most one aggregated event, by default.
pub const DEFAULT_REJECTED_EVENT_WINDOW: i64 = 3600;
/// Buckets whose window is remembered at once; the rest share one overflow window per reason.
pub const MAX_TRACKED: usize = 4096;

/// Why a request was refused before its credential was checked: the `reason` label of
/// [`REQUESTS_REJECTED`](crate::telemetry::REQUESTS_REJECTED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The client address is over the per-address login throttle (429).
    IpThrottled,
    /// The user is over the per-user bucket of wrong second-factor codes (429).
    MfaThrottled,
    /// The password hash queue was full (503).
    Overloaded,
}

impl Rejection {
    /// Every reason: the whole label set.
    pub const ALL: [Rejection; 3] = [
        Rejection::IpThrottled,
        Rejection::MfaThrottled,
        Rejection::Overloaded,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::IpThrottled => "ip_throttled",
            Rejection::MfaThrottled => "mfa_throttled",
            Rejection::Overloaded => "overloaded",
        }
    }
}

/// What [`Rejections::count`] decided about one rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregate {
    /// Rejections of this bucket since its previous event, this one included.
    pub count: u64,
    /// The bucket shares the overflow window (too many buckets were tracked).
    pub overflow: bool,
}

/// The in-memory windows of rejected requests, one per reason and bucket.
pub struct Rejections {
    window: i64,
    tracked: Mutex<Tracked>,
}

#[derive(Default)]
struct Tracked {
    by_bucket: HashMap<(Rejection, String), Window>,
    overflow: HashMap<Rejection, Window>,
}

#[derive(Clone, Copy)]
struct Window {
    /// When its event was written.
    started: i64,
    /// Rejections since that event.
    count: u64,
}

impl Rejections {
    /// Windows of `window` seconds (at least 1).
    pub fn new(window: i64) -> Self {
        Rejections {
            window: window.max(1),
            tracked: Mutex::new(Tracked::default()),
        }
    }

    /// The window, in seconds.
    pub fn window(&self) -> i64 {
        self.window
    }

    /// Counts one rejection of `bucket` at `now`: `Some` when an event is due (the first
    /// rejection of the bucket, or the first after its window ended), with the count it carries.
    pub fn count(&self, reason: Rejection, bucket: &str, now: i64) -> Option<Aggregate> {
        // A poisoned lock only means another thread panicked mid-count; the counts stay usable.
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        let tracked = &mut *tracked;
        let key = (reason, bucket.to_owned());
        let window = self.window;
        if !tracked.by_bucket.contains_key(&key) && tracked.by_bucket.len() >= MAX_TRACKED {
            tracked
                .by_bucket
                .retain(|_, w| now < w.started.saturating_add(window));
        }
        let overflow =
            !tracked.by_bucket.contains_key(&key) && tracked.by_bucket.len() >= MAX_TRACKED;
        let fresh = Window {
            started: i64::MIN,
            count: 0,
        };
        let slot = if overflow {
            tracked.overflow.entry(reason).or_insert(fresh)
        } else {
            tracked.by_bucket.entry(key).or_insert(fresh)
        };
        slot.count += 1;
        if now < slot.started.saturating_add(window) {
            return None;
        }
        let count = slot.count;
        *slot = Window {
            started: now,
            count: 0,
        };
        Some(Aggregate { count, overflow })
    }

    /// Buckets remembered now (overflow windows excluded).
    pub fn tracked(&self) -> usize {
        let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        tracked.by_bucket.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    #[test]
    fn one_event_per_bucket_and_window_carrying_the_count() {
        let r = Rejections::new(60);
        let ip = Rejection::IpThrottled;
        assert_eq!(
            r.count(ip, "192.0.2.1", T0),
            Some(Aggregate {
                count: 1,
                overflow: false
            })
        );
        for i in 0..499 {
            assert_eq!(r.count(ip, "192.0.2.1", T0 + i % 60), None);
        }
        // Another bucket and another reason have their own windows.
        assert!(r.count(ip, "192.0.2.2", T0).is_some());
        assert!(r.count(Rejection::MfaThrottled, "192.0.2.1", T0).is_some());
        assert_eq!(
            r.count(ip, "192.0.2.1", T0 + 60),
            Some(Aggregate {
                count: 500,
                overflow: false
            })
        );
    }

    #[test]
    fn a_flood_of_distinct_buckets_is_bounded() {
        let r = Rejections::new(60);
        let ip = Rejection::IpThrottled;
        let mut events = 0;
        for i in 0..(MAX_TRACKED * 3) {
            events += usize::from(r.count(ip, &format!("b{i}"), T0).is_some());
        }
        assert_eq!(r.tracked(), MAX_TRACKED);
        // One event per tracked bucket, then one for the overflow window.
        assert_eq!(events, MAX_TRACKED + 1);
        // Once the windows have ended, new buckets take their places.
        assert!(r.count(ip, "new", T0 + 60).is_some_and(|a| !a.overflow));
        assert!(r.tracked() <= MAX_TRACKED);
    }
}
