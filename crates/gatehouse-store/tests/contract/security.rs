//! The brute-force defence's storage: the per-account lockout counter (compare and swap on
//! `version`), the per-address throttle bucket (check and take in one statement) and the
//! pruning of both by the cleanup job. Each concurrency test runs its attempts at once on a
//! multi-threaded runtime against the real database.

use std::sync::Arc;

use gatehouse_core::lockout::{AttemptState, LockoutPolicy, Reservation};
use gatehouse_core::store::Store;

const NOW: i64 = 1_700_000_000;
const ATTEMPTS: usize = 24;

/// A policy that never locks, so that every attempt is counted.
const COUNT_ONLY: LockoutPolicy = LockoutPolicy {
    threshold: 1_000_000,
    wait: 60,
    max_wait: 900,
    reset_after: 43_200,
};

/// Counts one attempt the way `LoginGuard::reserve` does: read, compute, swap, retry on a lost
/// swap. Returns how many swaps were lost.
async fn count_one(store: &dyn Store, key: &str, policy: &LockoutPolicy) -> usize {
    let mut lost = 0;
    loop {
        let state = store.login_attempts(key).await.unwrap();
        match policy.reserve(&state, NOW) {
            Reservation::Locked { .. } => return lost,
            Reservation::Proceed { next, .. } => {
                if store.swap_login_attempts(key, &next).await.unwrap() {
                    return lost;
                }
                lost += 1;
            }
        }
    }
}

/// Concurrent failed logins on one account are all counted: none is lost to a race, because
/// each swap succeeds only on the version it read.
pub async fn concurrent_lockout_failures_are_all_counted(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..ATTEMPTS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { count_one(store.as_ref(), "user:u1", &COUNT_ONLY).await })
        })
        .collect();
    let mut lost = 0;
    for task in tasks {
        lost += task.await.unwrap();
    }
    let state = store.login_attempts("user:u1").await.unwrap();
    assert_eq!(
        state.failures as usize, ATTEMPTS,
        "lost swaps retried: {lost}"
    );
    assert_eq!(state.version as usize, ATTEMPTS);
    assert_eq!(
        store.login_attempts("user:other").await.unwrap(),
        AttemptState::default()
    );
}

/// With a threshold of 5, concurrent attempts on one account lock it after exactly 5 were let
/// through: the others find it locked.
pub async fn concurrent_lockout_attempts_stop_at_the_threshold(store: Arc<dyn Store>) {
    let policy = LockoutPolicy {
        threshold: 5,
        ..COUNT_ONLY
    };
    let tasks: Vec<_> = (0..ATTEMPTS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { count_one(store.as_ref(), "client:c1", &policy).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let state = store.login_attempts("client:c1").await.unwrap();
    assert_eq!(state.failures, 5);
    assert_eq!(state.locked_until, NOW + 60);
}

/// A swap with a stale version changes nothing.
pub async fn a_stale_lockout_swap_is_refused(store: Arc<dyn Store>) {
    let first = AttemptState {
        failures: 1,
        last_failure: NOW,
        locked_until: 0,
        version: 0,
    };
    assert!(store.swap_login_attempts("user:u", &first).await.unwrap());
    assert!(!store.swap_login_attempts("user:u", &first).await.unwrap());
    let stale = AttemptState {
        failures: 9,
        version: 7,
        ..first
    };
    assert!(!store.swap_login_attempts("user:u", &stale).await.unwrap());
    let state = store.login_attempts("user:u").await.unwrap();
    assert_eq!((state.failures, state.version), (1, 1));
}

/// Of concurrent attempts from one address with room for 5, exactly 5 are taken; a refund
/// makes room for exactly one more.
pub async fn the_source_bucket_admits_exactly_its_room_under_concurrency(store: Arc<dyn Store>) {
    let (interval, limit) = (100_i64, 5_i64);
    let room = (limit - 1) * interval;
    let tasks: Vec<_> = (0..ATTEMPTS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve_source_attempt("192.0.2.7", NOW, interval, room)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut taken = Vec::new();
    for task in tasks {
        if let Some(drained_at) = task.await.unwrap() {
            taken.push(drained_at);
        }
    }
    taken.sort_unstable();
    let expected: Vec<i64> = (1..=limit).map(|n| NOW + n * interval).collect();
    assert_eq!(taken, expected, "each taken attempt adds one interval");
    assert_eq!(
        store.source_drained_at("192.0.2.7").await.unwrap(),
        NOW + 500
    );

    store
        .refund_source_attempt("192.0.2.7", interval)
        .await
        .unwrap();
    assert_eq!(
        store.source_drained_at("192.0.2.7").await.unwrap(),
        NOW + 400
    );
    let reserve = |at: i64| store.reserve_source_attempt("192.0.2.7", at, interval, room);
    assert_eq!(reserve(NOW).await.unwrap(), Some(NOW + 500), "again");
    assert_eq!(reserve(NOW).await.unwrap(), None, "full");
    // One interval later one attempt has drained, and only one.
    let later = NOW + interval;
    assert_eq!(reserve(later).await.unwrap(), Some(NOW + 600), "drained");
    assert_eq!(reserve(later).await.unwrap(), None, "full");
    // Other addresses have their own buckets; a refund of an unknown one changes nothing.
    let other = store
        .reserve_source_attempt("2001:db8::1", NOW, interval, room)
        .await;
    assert_eq!(other.unwrap(), Some(NOW + interval));
    store
        .refund_source_attempt("198.51.100.1", interval)
        .await
        .unwrap();
    assert_eq!(store.source_drained_at("198.51.100.1").await.unwrap(), 0);
}

/// The cleanup job forgets lockout rows without a failure since the cut-off unless they are
/// locked, in batches; drained address buckets go with the expired rows.
pub async fn forgotten_attempts_and_drained_buckets_are_pruned(store: Arc<dyn Store>) {
    let row = |last_failure: i64, locked_until: i64| AttemptState {
        failures: 3,
        last_failure,
        locked_until,
        version: 0,
    };
    let cutoff = NOW - 43_200;
    for n in 0..5 {
        let key = format!("user:old{n}");
        let old = row(cutoff - 1 - n, 0);
        assert!(store.swap_login_attempts(&key, &old).await.unwrap());
    }
    let locked = row(cutoff - 10, NOW + 60);
    assert!(store
        .swap_login_attempts("user:locked", &locked)
        .await
        .unwrap());
    let recent = row(cutoff + 1, 0);
    assert!(store
        .swap_login_attempts("user:recent", &recent)
        .await
        .unwrap());

    let mut batches = Vec::new();
    for _ in 0..4 {
        let deleted = store.delete_forgotten_login_attempts(cutoff, NOW, 2).await;
        batches.push(deleted.unwrap());
    }
    assert_eq!(batches, [2, 2, 1, 0]);
    for n in 0..5 {
        let state = store.login_attempts(&format!("user:old{n}")).await.unwrap();
        assert_eq!(state, AttemptState::default());
    }
    assert_eq!(
        store.login_attempts("user:locked").await.unwrap().failures,
        3
    );
    assert_eq!(
        store.login_attempts("user:recent").await.unwrap().failures,
        3
    );
    // Once its lock is over, the locked row goes too.
    let after_lock = NOW + 60;
    let deleted = store
        .delete_forgotten_login_attempts(cutoff, after_lock, 10)
        .await;
    assert_eq!(deleted.unwrap(), 1);
    assert_eq!(
        store.login_attempts("user:locked").await.unwrap().failures,
        0
    );

    store
        .reserve_source_attempt("192.0.2.1", NOW - 200, 100, 1000)
        .await
        .unwrap();
    store
        .reserve_source_attempt("192.0.2.2", NOW, 100, 1000)
        .await
        .unwrap();
    store.delete_expired(NOW, 100).await.unwrap();
    assert_eq!(store.source_drained_at("192.0.2.1").await.unwrap(), 0);
    assert_eq!(
        store.source_drained_at("192.0.2.2").await.unwrap(),
        NOW + 100
    );
}
