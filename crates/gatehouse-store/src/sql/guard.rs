//! [`GuardStore`] on SQL: `login_attempts` (per account) and `source_failures` (per address).
//! Lockout state changes only by compare and swap on `version` (an `INSERT … ON CONFLICT DO
//! NOTHING` for the first attempt, a conditional `UPDATE` after), so of concurrent attempts on
//! one account exactly one swaps each version. An address's bucket takes an attempt in one
//! `INSERT … ON CONFLICT DO UPDATE … WHERE` that also checks for room, so concurrent attempts
//! cannot overrun it. The policy lives in the core.

use async_trait::async_trait;
use gatehouse_core::lockout::AttemptState;
use gatehouse_core::store::{GuardStore, StoreError};

use super::{execute, fetch_optional, rows, HotPath, SqlStore};
use crate::backend::Backend;
use crate::hot_cache::Change;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> GuardStore for SqlStore<DB, H> {
    async fn login_attempts(&self, key: &str) -> Result<AttemptState, StoreError> {
        // On the hot path: every refresh reads its user's lock.
        Ok(self.hot.login_attempts(key).await?.unwrap_or_default())
    }

    async fn swap_login_attempts(
        &self,
        key: &str,
        next: &AttemptState,
    ) -> Result<bool, StoreError> {
        let params = [
            key.into(),
            i64::from(next.failures).into(),
            next.last_failure.into(),
            next.locked_until.into(),
            next.version.into(),
        ];
        // The first attempt's INSERT has no `$5`.
        let done = if next.version == 0 {
            let sql = "INSERT INTO login_attempts (key, failures, last_failure, locked_until, \
                       version) VALUES ($1, $2, $3, $4, 1) ON CONFLICT (key) DO NOTHING";
            execute(&self.pool, sql, &params[..4]).await
        } else {
            let sql = "UPDATE login_attempts SET failures = $2, last_failure = $3, \
                       locked_until = $4, version = version + 1 WHERE key = $1 AND version = $5";
            execute(&self.pool, sql, &params).await
        };
        // Whether it won or lost the swap, what this instance remembers of the account's
        // attempts is forgotten: a loser re-reads the winner's state from the database.
        self.hot.changed(Change::Attempts);
        Ok(done? == 1)
    }

    async fn clear_login_attempts(&self, key: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM login_attempts WHERE key = $1";
        let cleared = execute(&self.pool, sql, &[key.into()]).await;
        self.hot.changed(Change::Attempts);
        Ok(cleared? > 0)
    }

    async fn source_drained_at(&self, ip: &str) -> Result<i64, StoreError> {
        let sql = "SELECT drained_at FROM source_failures WHERE ip = $1";
        let drained = fetch_optional(&self.pool, sql, &[ip.into()], rows::drained_at::<DB>).await?;
        Ok(drained.unwrap_or(0))
    }

    async fn reserve_source_attempt(
        &self,
        ip: &str,
        now: i64,
        interval: i64,
        room: i64,
    ) -> Result<Option<i64>, StoreError> {
        // The upsert's WHERE makes the check and the take one atomic step: PostgreSQL locks the
        // conflicting row and re-evaluates it; SQLite has a single writer.
        let sql = "INSERT INTO source_failures (ip, drained_at) VALUES ($1, $2 + $3) \
                   ON CONFLICT (ip) DO UPDATE SET drained_at = CASE \
                   WHEN source_failures.drained_at > $2 THEN source_failures.drained_at \
                   ELSE $2 END + $3 \
                   WHERE source_failures.drained_at - $2 <= $4 RETURNING drained_at";
        let params = [ip.into(), now.into(), interval.into(), room.into()];
        fetch_optional(&self.pool, sql, &params, rows::drained_at::<DB>).await
    }

    async fn refund_source_attempt(&self, ip: &str, interval: i64) -> Result<(), StoreError> {
        let sql = "UPDATE source_failures SET drained_at = drained_at - $2 WHERE ip = $1";
        let params = [ip.into(), interval.into()];
        execute(&self.pool, sql, &params).await.map(drop)
    }

    async fn delete_forgotten_login_attempts(
        &self,
        forgotten_before: i64,
        now: i64,
        batch_size: u32,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM login_attempts WHERE key IN (SELECT key FROM login_attempts \
                   WHERE last_failure < $1 AND locked_until <= $2 LIMIT $3)";
        let limit = i64::from(batch_size);
        let params = [forgotten_before.into(), now.into(), limit.into()];
        let deleted = execute(&self.pool, sql, &params).await;
        self.hot.changed(Change::Attempts);
        deleted
    }
}

pub(crate) fn attempt_state<DB: Backend>(row: &DB::Row) -> Result<AttemptState, StoreError> {
    Ok(AttemptState {
        failures: u32::try_from(DB::int(row, "failures")?).unwrap_or(u32::MAX),
        last_failure: DB::int(row, "last_failure")?,
        locked_until: DB::int(row, "locked_until")?,
        version: DB::int(row, "version")?,
    })
}
