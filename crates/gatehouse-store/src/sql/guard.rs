//! [`GuardStore`] on SQL: `login_attempts` (per account) and `source_failures` (per address).
//! Lockout state changes only by compare and swap on `version` (an `INSERT … ON CONFLICT DO
//! NOTHING` for the first attempt, a conditional `UPDATE` after), so of concurrent attempts on
//! one account exactly one swaps each version. An address's bucket takes an attempt in one
//! `INSERT … ON CONFLICT DO UPDATE … WHERE` that also checks for room, so concurrent attempts
//! cannot overrun it. The policy lives in the core.

use async_trait::async_trait;
use gatehouse_core::lockout::AttemptState;
use gatehouse_core::store::{GuardStore, StoreError};

use super::{HotPath, SqlStore};
use crate::backend::Backend;
use crate::store_error;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> GuardStore for SqlStore<DB, H> {
    async fn login_attempts(&self, key: &str) -> Result<AttemptState, StoreError> {
        let mut conn = self.conn().await?;
        let sql = "SELECT failures, last_failure, locked_until, version FROM login_attempts \
                   WHERE key = $1";
        let row = DB::fetch_optional(&mut conn, sql, &[key.into()]).await;
        let Some(row) = row.map_err(store_error)? else {
            return Ok(AttemptState::default());
        };
        let get = |column| DB::int(&row, column).map_err(store_error);
        Ok(AttemptState {
            failures: u32::try_from(get("failures")?).unwrap_or(u32::MAX),
            last_failure: get("last_failure")?,
            locked_until: get("locked_until")?,
            version: get("version")?,
        })
    }

    async fn swap_login_attempts(
        &self,
        key: &str,
        next: &AttemptState,
    ) -> Result<bool, StoreError> {
        let sql = if next.version == 0 {
            "INSERT INTO login_attempts (key, failures, last_failure, locked_until, version) \
             VALUES ($1, $2, $3, $4, 1) ON CONFLICT (key) DO NOTHING"
        } else {
            "UPDATE login_attempts SET failures = $2, last_failure = $3, locked_until = $4, \
             version = version + 1 WHERE key = $1 AND version = $5"
        };
        let params = [
            key.into(),
            i64::from(next.failures).into(),
            next.last_failure.into(),
            next.locked_until.into(),
            next.version.into(),
        ];
        // The first attempt's INSERT has no `$5`.
        let params = if next.version == 0 {
            &params[..4]
        } else {
            &params[..]
        };
        let mut conn = self.conn().await?;
        let done = DB::execute(&mut conn, sql, params).await;
        Ok(done.map_err(store_error)? == 1)
    }

    async fn clear_login_attempts(&self, key: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let sql = "DELETE FROM login_attempts WHERE key = $1";
        let done = DB::execute(&mut conn, sql, &[key.into()]).await;
        Ok(done.map_err(store_error)? > 0)
    }

    async fn source_drained_at(&self, ip: &str) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        let sql = "SELECT drained_at FROM source_failures WHERE ip = $1";
        let row = DB::fetch_optional(&mut conn, sql, &[ip.into()]).await;
        match row.map_err(store_error)? {
            Some(row) => DB::int(&row, "drained_at").map_err(store_error),
            None => Ok(0),
        }
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
        let mut conn = self.conn().await?;
        let row = DB::fetch_optional(
            &mut conn,
            "INSERT INTO source_failures (ip, drained_at) VALUES ($1, $2 + $3) \
             ON CONFLICT (ip) DO UPDATE SET drained_at = CASE \
             WHEN source_failures.drained_at > $2 THEN source_failures.drained_at \
             ELSE $2 END + $3 \
             WHERE source_failures.drained_at - $2 <= $4 RETURNING drained_at",
            &[ip.into(), now.into(), interval.into(), room.into()],
        )
        .await
        .map_err(store_error)?;
        row.map(|row| DB::int(&row, "drained_at").map_err(store_error))
            .transpose()
    }

    async fn refund_source_attempt(&self, ip: &str, interval: i64) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let sql = "UPDATE source_failures SET drained_at = drained_at - $2 WHERE ip = $1";
        DB::execute(&mut conn, sql, &[ip.into(), interval.into()])
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_forgotten_login_attempts(
        &self,
        forgotten_before: i64,
        now: i64,
        batch_size: u32,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let sql = "DELETE FROM login_attempts WHERE key IN (SELECT key FROM login_attempts \
                   WHERE last_failure < $1 AND locked_until <= $2 LIMIT $3)";
        let params = [
            forgotten_before.into(),
            now.into(),
            i64::from(batch_size).into(),
        ];
        let done = DB::execute(&mut conn, sql, &params).await;
        done.map_err(store_error)
    }
}
