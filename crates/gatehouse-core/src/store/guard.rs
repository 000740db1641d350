//! [`GuardStore`]: the counters of the brute-force defence: the per-account lockout state
//! (compare and swap on a version, see [`crate::lockout`]) and the per-address bucket of failed
//! logins (see [`crate::throttle`]). Each change that decides a race is one atomic statement.

use async_trait::async_trait;

use super::StoreError;
use crate::lockout::AttemptState;

/// The lockout and throttle counters.
#[async_trait]
pub trait GuardStore: Send + Sync {
    /// The attempt state of a lockout key; the default (version 0) when it has none.
    async fn login_attempts(&self, key: &str) -> Result<AttemptState, StoreError>;
    /// Stores `next` if the key's state still has `next.version` (0: no row yet), bumping the
    /// version; `false`, changing nothing, when another attempt swapped first.
    async fn swap_login_attempts(&self, key: &str, next: &AttemptState)
        -> Result<bool, StoreError>;
    /// Forgets a key's attempts; `true` when it had a row.
    async fn clear_login_attempts(&self, key: &str) -> Result<bool, StoreError>;
    /// When the failed-login bucket of a client address is empty again (0 when it has none).
    async fn source_drained_at(&self, ip: &str) -> Result<i64, StoreError>;
    /// Takes one attempt from an address's bucket if it has room, in one statement: when the
    /// backlog `max(drained_at - now, 0)` is at most `room` seconds, sets
    /// `drained_at = max(drained_at, now) + interval` and returns it; else changes nothing and
    /// returns `None` (the address is throttled). Atomic: of concurrent calls, only as many as
    /// the bucket has room for succeed.
    async fn reserve_source_attempt(
        &self,
        ip: &str,
        now: i64,
        interval: i64,
        room: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Gives back an attempt taken by [`GuardStore::reserve_source_attempt`] (the login succeeded):
    /// `drained_at -= interval`. An address without a bucket is left alone.
    async fn refund_source_attempt(&self, ip: &str, interval: i64) -> Result<(), StoreError>;
    /// Deletes up to `batch_size` lockout rows whose last failure is before `forgotten_before`
    /// and that are not locked at `now`; returns how many went.
    async fn delete_forgotten_login_attempts(
        &self,
        forgotten_before: i64,
        now: i64,
        batch_size: u32,
    ) -> Result<u64, StoreError>;
}
