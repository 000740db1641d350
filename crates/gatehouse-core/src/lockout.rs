//! Per-account brute-force detection, with Keycloak's numbers by default: failures are counted
//! per account (a user; client secrets count on the per-address throttle instead); every `threshold`-th failure locks
//! the account for `wait` seconds, growing by `wait` at each further multiple, at most
//! `max_wait`; the count is forgotten after `reset_after` seconds without a failure. Permanent
//! lockout does not exist.
//!
//! An attempt is *reserved* before the password is checked: [`LockoutPolicy::reserve`] turns the
//! stored [`AttemptState`] into the next one, which the store swaps in atomically (compare and
//! swap on `version`). Concurrent guesses thus cannot overrun the threshold: at most `threshold`
//! of them reach the real hash before the lock is set. A success clears the state.

/// The brute-force policy. `None` where it is held means the defence is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that lock the account (and each further multiple of it).
    pub threshold: u32,
    /// Seconds of the first lockout, and the growth of each further one.
    pub wait: i64,
    /// The longest lockout, in seconds.
    pub max_wait: i64,
    /// Seconds without a failure after which the count is forgotten.
    pub reset_after: i64,
}

impl Default for LockoutPolicy {
    /// Keycloak's brute-force detection defaults: 30 failures, 60 s growing by 60 s, 15 min at
    /// most, forgotten after 12 hours.
    fn default() -> Self {
        LockoutPolicy {
            threshold: 30,
            wait: 60,
            max_wait: 15 * 60,
            reset_after: 12 * 3600,
        }
    }
}

/// The stored state of one account's attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptState {
    /// Attempts counted (reserved) since the last success or reset.
    pub failures: u32,
    /// When the last attempt was counted.
    pub last_failure: i64,
    /// Until when the account is locked (0 or past: not locked).
    pub locked_until: i64,
    /// Bumped by each swap; the compare-and-swap key. 0 for an account with no row.
    pub version: i64,
}

/// What [`LockoutPolicy::reserve`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The account is locked until the given time: refuse without checking the password.
    Locked {
        /// Unix seconds.
        until: i64,
    },
    /// The attempt may proceed once `next` is stored.
    Proceed {
        /// The state to swap in.
        next: AttemptState,
        /// Whether this attempt sets a new lock (if its password turns out wrong).
        locks: bool,
    },
}

impl LockoutPolicy {
    /// The lockout after `failures` failures: 0 unless it is a multiple of the threshold, else
    /// `wait` times the multiple, at most `max_wait`.
    pub fn wait_after(&self, failures: u32) -> i64 {
        let threshold = self.threshold.max(1);
        if failures == 0 || !failures.is_multiple_of(threshold) {
            return 0;
        }
        self.wait
            .saturating_mul(i64::from(failures / threshold))
            .min(self.max_wait)
    }

    /// Whether `state` locks the account at `now`.
    pub fn locked_until(&self, state: &AttemptState, now: i64) -> Option<i64> {
        (state.locked_until > now).then_some(state.locked_until)
    }

    /// Counts one more attempt on `state` at `now`, or refuses it while the account is locked.
    pub fn reserve(&self, state: &AttemptState, now: i64) -> Reservation {
        if let Some(until) = self.locked_until(state, now) {
            return Reservation::Locked { until };
        }
        let forgotten = now.saturating_sub(state.last_failure) >= self.reset_after;
        let failures = if forgotten { 1 } else { state.failures + 1 };
        let wait = self.wait_after(failures);
        Reservation::Proceed {
            next: AttemptState {
                failures,
                last_failure: now,
                locked_until: if wait > 0 { now + wait } else { 0 },
                version: state.version,
            },
            locks: wait > 0,
        }
    }

    /// Gives back an attempt counted on `state` whose credential turned out right while the
    /// login is not complete yet (it waits for a second factor): one failure fewer, and the lock
    /// it set (`set_lock`, its end) lifted. `None` when there is nothing to give back.
    pub fn refund(&self, state: &AttemptState, set_lock: Option<i64>) -> Option<AttemptState> {
        if state.failures == 0 || state.version == 0 {
            return None;
        }
        let mut next = *state;
        next.failures -= 1;
        if set_lock.is_some_and(|until| until == state.locked_until) {
            next.locked_until = 0;
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    fn fail(policy: &LockoutPolicy, state: &mut AttemptState, now: i64) -> Reservation {
        let r = policy.reserve(state, now);
        if let Reservation::Proceed { next, .. } = r {
            *state = AttemptState {
                version: state.version + 1,
                ..next
            };
        }
        r
    }

    #[test]
    fn defaults_are_keycloaks() {
        let p = LockoutPolicy::default();
        assert_eq!((p.threshold, p.wait, p.max_wait), (30, 60, 900));
        assert_eq!(p.reset_after, 43_200);
    }

    #[test]
    fn the_thirtieth_failure_locks_for_a_minute() {
        let p = LockoutPolicy::default();
        let mut s = AttemptState::default();
        for i in 0..29 {
            assert!(matches!(
                fail(&p, &mut s, T0 + i),
                Reservation::Proceed { locks: false, .. }
            ));
        }
        assert!(matches!(
            fail(&p, &mut s, T0 + 29),
            Reservation::Proceed { locks: true, .. }
        ));
        assert_eq!(s.locked_until, T0 + 29 + 60);
        assert_eq!(
            p.reserve(&s, T0 + 30),
            Reservation::Locked { until: T0 + 89 }
        );
        assert!(matches!(
            p.reserve(&s, T0 + 89),
            Reservation::Proceed { .. }
        ));
    }

    #[test]
    fn the_wait_grows_by_a_minute_per_multiple_up_to_fifteen() {
        let p = LockoutPolicy::default();
        assert_eq!(p.wait_after(29), 0);
        assert_eq!(p.wait_after(30), 60);
        assert_eq!(p.wait_after(31), 0);
        assert_eq!(p.wait_after(60), 120);
        assert_eq!(p.wait_after(30 * 15), 900);
        assert_eq!(p.wait_after(30 * 40), 900);
    }

    #[test]
    fn the_count_is_forgotten_after_twelve_quiet_hours() {
        let p = LockoutPolicy::default();
        let mut s = AttemptState::default();
        for i in 0..20 {
            fail(&p, &mut s, T0 + i);
        }
        assert_eq!(s.failures, 20);
        fail(&p, &mut s, T0 + 19 + 43_199);
        assert_eq!(s.failures, 21);
        fail(&p, &mut s, T0 + 19 + 43_199 + 43_200);
        assert_eq!(s.failures, 1);
    }

    #[test]
    fn a_locked_account_is_refused_without_counting() {
        let p = LockoutPolicy {
            threshold: 3,
            wait: 2,
            max_wait: 10,
            reset_after: 100,
        };
        let mut s = AttemptState::default();
        for i in 0..3 {
            fail(&p, &mut s, T0 + i);
        }
        let before = s;
        assert!(matches!(
            fail(&p, &mut s, T0 + 3),
            Reservation::Locked { .. }
        ));
        assert_eq!(s, before);
    }

    #[test]
    fn a_refund_takes_back_the_count_and_the_lock_it_set() {
        let p = LockoutPolicy {
            threshold: 3,
            ..LockoutPolicy::default()
        };
        let mut s = AttemptState::default();
        fail(&p, &mut s, T0);
        fail(&p, &mut s, T0 + 1);
        let Reservation::Proceed { locks: true, next } = fail(&p, &mut s, T0 + 2) else {
            panic!("the third attempt locks");
        };
        let back = p.refund(&s, Some(next.locked_until)).unwrap();
        assert_eq!((back.failures, back.locked_until), (2, 0));
        assert_eq!(p.refund(&AttemptState::default(), None), None);
    }
}
