//! Admission to the password-hash pool (issue 18), CoDel-style: a burst may queue, a standing
//! queue is shed, and a shed answer is held on a timer before it is sent.
//!
//! A request takes a place before any of its other work. While the queue (requests admitted
//! beyond the number of workers) has drained recently, up to `queue` requests may wait: a burst
//! of logins on an idle server is served, not shed. Once the queue has not been empty for a
//! whole interval (a standing queue: demand above what the workers can hash), the pool is
//! overloaded and admits only one waiting request per worker, so an admitted request waits about
//! one hash at most; it stays so until it has gone one interval without a request it had to turn
//! away. Leaving on the first moment the queue empties would reopen the deep queue every time it
//! drains for an instant under a steady overload, and each such burst would wait up to an
//! interval.
//!
//! A shed request is answered 503 with `Retry-After`, but only after a hold: a timer, no work.
//! A client that ignores `Retry-After` and retries at once thus comes back at a bounded rate
//! instead of taking the cores from hashing with a flood of instant refusals. The hold is
//! `(held + 1) / (2 × service rate)`, the service rate measured from the hashes themselves
//! (an EWMA of their duration): the held clients come back together at about twice the rate the
//! workers take requests, so the queue never runs dry for want of a returning client. The number
//! of held answers is bounded; beyond it a shed request is answered at once, with
//! `Connection: close`.
//!
//! Time is a monotonic count of nanoseconds since the admission was made ([`Stopwatch`]); the
//! state machine takes it as an argument, so its tests give it the times they need.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::clock::Stopwatch;

/// Requests that may wait for a hash worker, per worker, while the queue drains now and then
/// (a burst): 32. A waiting request is a small future; argon2's memory belongs to the workers.
pub const DEFAULT_QUEUE_PER_WORKER: usize = 32;

/// Requests that may wait, per worker, once the queue stands (overload): one, so an admitted
/// request waits about one hash before its own starts.
pub const OVERLOADED_QUEUE_PER_WORKER: usize = 1;

/// How long the queue must stay non-empty before the pool counts as overloaded, by default
/// (never less than two hash durations).
pub const DEFAULT_OVERLOAD_INTERVAL: Duration = Duration::from_millis(100);

/// Shed answers held at once, by default; more are answered at once and their connection closed.
pub const DEFAULT_MAX_HELD: usize = 1024;

/// The shortest hold of a shed answer.
pub const MIN_HOLD: Duration = Duration::from_millis(5);

/// The longest hold of a shed answer (its `Retry-After` is one second).
pub const MAX_HOLD: Duration = Duration::from_secs(1);

/// How the hash pool admits requests and holds shed answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionSettings {
    /// Requests that may wait beyond those being hashed while the queue drains (a burst).
    pub queue: usize,
    /// How long the queue must stay non-empty before the pool counts as overloaded.
    pub overload_interval: Duration,
    /// Shed answers held at once.
    pub max_held: usize,
}

impl AdmissionSettings {
    /// The defaults for `workers` hash workers.
    pub fn defaults(workers: usize) -> Self {
        AdmissionSettings {
            queue: workers.max(1) * DEFAULT_QUEUE_PER_WORKER,
            overload_interval: DEFAULT_OVERLOAD_INTERVAL,
            max_held: DEFAULT_MAX_HELD,
        }
    }
}

/// The admission state of one hash pool: atomics only, no lock.
pub(crate) struct Admission {
    workers: usize,
    /// In flight allowed while the queue drains: workers + queue.
    burst: usize,
    /// In flight allowed while overloaded: workers + one per worker (at most the burst).
    tight: usize,
    interval_ns: u64,
    max_held: usize,
    in_flight: AtomicUsize,
    /// When the queue was last seen empty (in flight at most the workers).
    empty_at: AtomicU64,
    /// When an admission last found the pool overloaded.
    overloaded_at: AtomicU64,
    /// EWMA of one hash's duration on its worker.
    hash_ns: AtomicU64,
    held: AtomicUsize,
    epoch: Stopwatch,
}

/// What [`Admission::enter`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Admitted; the place is given back with [`Admission::leave`].
    Admitted,
    /// Shed.
    Shed,
}

impl Admission {
    /// For `workers` workers whose hash takes about `hash` (the first estimate of the EWMA).
    pub(crate) fn new(workers: usize, settings: AdmissionSettings, hash: Duration) -> Self {
        let workers = workers.max(1);
        let tight = settings.queue.min(workers * OVERLOADED_QUEUE_PER_WORKER);
        Admission {
            workers,
            burst: workers + settings.queue,
            tight: workers + tight,
            interval_ns: nanos(settings.overload_interval),
            max_held: settings.max_held,
            in_flight: AtomicUsize::new(0),
            empty_at: AtomicU64::new(0),
            overloaded_at: AtomicU64::new(0),
            hash_ns: AtomicU64::new(nanos(hash).max(1)),
            held: AtomicUsize::new(0),
            epoch: Stopwatch::start(),
        }
    }

    /// Now, for the other methods.
    pub(crate) fn now(&self) -> u64 {
        nanos(self.epoch.elapsed())
    }

    /// Requests in flight (admitted and not yet given back).
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// In flight allowed while the queue drains (workers plus the burst queue).
    pub(crate) fn capacity(&self) -> usize {
        self.burst
    }

    /// Takes a place at `now`, or sheds: within the tight queue always, within the burst queue
    /// unless the pool is overloaded.
    pub(crate) fn enter(&self, now: u64) -> Entry {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before <= self.workers {
            // The queue was empty until this request.
            self.empty_at.fetch_max(now, Ordering::AcqRel);
        }
        if before < self.tight || (before < self.burst && !self.overloaded(now)) {
            return Entry::Admitted;
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        Entry::Shed
    }

    /// Gives a place back at `now`; the number left in flight.
    pub(crate) fn leave(&self, now: u64) -> usize {
        let left = self
            .in_flight
            .fetch_sub(1, Ordering::AcqRel)
            .saturating_sub(1);
        if left <= self.workers {
            self.empty_at.fetch_max(now, Ordering::AcqRel);
        }
        left
    }

    /// Whether the pool is overloaded at `now` (noted, so it stays so for an interval): the
    /// queue has stood a whole interval, or an admission found it overloaded within the last.
    fn overloaded(&self, now: u64) -> bool {
        let interval = self.interval();
        let standing = now.saturating_sub(self.empty_at.load(Ordering::Acquire)) >= interval;
        let lately = self.overloaded_at.load(Ordering::Acquire);
        let overloaded = standing || (lately > 0 && now.saturating_sub(lately) < interval);
        if overloaded {
            self.overloaded_at.fetch_max(now.max(1), Ordering::AcqRel);
        }
        overloaded
    }

    /// The overload interval in force: the setting, never less than two hash durations.
    fn interval(&self) -> u64 {
        let hash = self.hash_ns.load(Ordering::Relaxed);
        self.interval_ns.max(hash.saturating_mul(2))
    }

    /// Counts one hash of `took` into the EWMA of hash durations (weight 1/8).
    pub(crate) fn record_hash(&self, took: Duration) {
        let old = self.hash_ns.load(Ordering::Relaxed);
        let new = (old - old / 8).saturating_add(nanos(took) / 8).max(1);
        self.hash_ns.store(new, Ordering::Relaxed);
    }

    /// A held place for a shed answer and how long to hold it, or `None` when as many answers
    /// are held as may be.
    pub(crate) fn hold(&self) -> Option<(HeldPlace<'_>, Duration)> {
        let before = self.held.fetch_add(1, Ordering::AcqRel);
        if before >= self.max_held {
            self.held.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some((HeldPlace(self), self.hold_time(before + 1)))
    }

    /// Answers held now.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// `held / (2 × service rate)`, the service rate being the workers over one hash's
    /// duration, within [`MIN_HOLD`] and [`MAX_HOLD`].
    fn hold_time(&self, held: usize) -> Duration {
        let hash = self.hash_ns.load(Ordering::Relaxed);
        let ns = (held as u64).saturating_mul(hash) / (2 * self.workers as u64);
        Duration::from_nanos(ns).clamp(MIN_HOLD, MAX_HOLD)
    }
}

/// A held shed answer's place, given back when dropped.
pub(crate) struct HeldPlace<'a>(&'a Admission);

impl Drop for HeldPlace<'_> {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::AcqRel);
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Two workers, a burst queue of 8, an interval of 100 ms, hashes of 10 ms.
    fn admission() -> Admission {
        let settings = AdmissionSettings {
            queue: 8,
            overload_interval: Duration::from_millis(100),
            max_held: 3,
        };
        Admission::new(2, settings, Duration::from_millis(10))
    }

    fn enter_n(a: &Admission, n: usize, now: u64) -> usize {
        (0..n).filter(|_| a.enter(now) == Entry::Admitted).count()
    }

    #[test]
    fn a_burst_on_an_idle_pool_queues_up_to_the_bound() {
        let a = admission();
        assert_eq!(enter_n(&a, 12, 1000 * MS), 10, "2 workers + 8 waiting");
        assert_eq!(a.in_flight(), 10);
        // Within the interval the burst bound holds: one leaves, one more enters.
        a.leave(1050 * MS);
        assert_eq!(a.enter(1060 * MS), Entry::Admitted);
    }

    #[test]
    fn a_queue_that_stands_an_interval_is_cut_to_one_per_worker() {
        let a = admission();
        let t0 = 1000 * MS;
        assert_eq!(enter_n(&a, 6, t0), 6);
        // 100 ms later the queue has not been empty: only the tight queue (4 in flight) is
        // admitted, and 6 are in flight already.
        assert_eq!(a.enter(t0 + 100 * MS), Entry::Shed);
        for i in 0..2 {
            a.leave(t0 + (110 + i) * MS);
        }
        assert_eq!(a.in_flight(), 4);
        assert_eq!(
            a.enter(t0 + 120 * MS),
            Entry::Shed,
            "4 in flight is the tight bound"
        );
        a.leave(t0 + 130 * MS);
        assert_eq!(
            a.enter(t0 + 131 * MS),
            Entry::Admitted,
            "within the tight queue"
        );
    }

    #[test]
    fn the_overload_ends_an_interval_after_the_last_shed() {
        let a = admission();
        let t0 = 1000 * MS;
        enter_n(&a, 6, t0);
        assert_eq!(a.enter(t0 + 100 * MS), Entry::Shed);
        // The queue drains for a moment: still overloaded (the last shed was just now), so the
        // deep queue does not reopen.
        for _ in 0..4 {
            a.leave(t0 + 105 * MS);
        }
        assert_eq!(a.in_flight(), 2);
        assert_eq!(enter_n(&a, 4, t0 + 106 * MS), 2, "tight: 2 waiting at most");
        // A whole interval without a shed (the queue drained): a burst may queue again.
        for _ in 0..4 {
            a.leave(t0 + 150 * MS);
        }
        assert_eq!(enter_n(&a, 12, t0 + 250 * MS), 10);
    }

    #[test]
    fn the_interval_is_at_least_two_hashes() {
        let settings = AdmissionSettings {
            queue: 8,
            overload_interval: Duration::from_millis(1),
            max_held: 3,
        };
        let a = Admission::new(2, settings, Duration::from_millis(50));
        enter_n(&a, 6, 1000 * MS);
        assert_eq!(a.enter(1050 * MS), Entry::Admitted, "50 ms < two hashes");
        assert_eq!(a.enter(1100 * MS), Entry::Shed, "100 ms = two hashes");
    }

    #[test]
    fn a_queue_of_zero_admits_only_the_workers() {
        let settings = AdmissionSettings {
            queue: 0,
            ..AdmissionSettings::defaults(1)
        };
        let a = Admission::new(1, settings, Duration::from_millis(10));
        assert_eq!(enter_n(&a, 3, 0), 1);
    }

    #[test]
    fn holds_grow_with_the_held_answers_and_are_bounded() {
        let a = admission();
        // 10 ms hashes on 2 workers: 200 hashes/s; one held answer waits 1/400 s, below the
        // minimum; three wait 3/400 s.
        let (first, hold) = a.hold().unwrap();
        assert_eq!(hold, MIN_HOLD);
        let (_second, _) = a.hold().unwrap();
        let (_third, hold) = a.hold().unwrap();
        assert_eq!(hold, Duration::from_micros(7500));
        assert!(a.hold().is_none(), "max_held is 3");
        assert_eq!(a.held(), 3);
        drop(first);
        assert!(a.hold().is_some());
        // Slow hashes never hold an answer beyond its Retry-After.
        let slow = Admission::new(1, AdmissionSettings::defaults(1), Duration::from_secs(10));
        assert_eq!(slow.hold().unwrap().1, MAX_HOLD);
    }

    #[test]
    fn the_hash_time_is_an_ewma() {
        let a = admission();
        for _ in 0..64 {
            a.record_hash(Duration::from_millis(30));
        }
        let ns = a.hash_ns.load(Ordering::Relaxed);
        assert!((29 * MS..=30 * MS).contains(&ns), "{ns}");
    }
}
