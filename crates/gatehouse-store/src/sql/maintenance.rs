//! [`MaintenanceStore`] on SQL: the readiness ping, the pool's usage, and the batched deletion
//! of expired rows that the cleanup job runs.

use async_trait::async_trait;
use gatehouse_core::store::{MaintenanceStore, PoolStats, StoreError};

use super::{execute, HotPath, SqlStore};
use crate::backend::Backend;

/// One batched DELETE per table that expires, each bounded by `$2`
/// (`DELETE … WHERE key IN (SELECT … LIMIT $2)`, which both databases accept). A refresh-token
/// family goes only when its absolute lifetime is over, taking its refresh tokens with it, so a
/// rotated token is remembered (and its reuse detected) for as long as the family could live.
/// Access tokens go when they expire: an expired token is inactive whether or not its row is
/// there. An expired mfa_token is kept an hour longer, so that its client is told
/// `expired_token` rather than that it never existed.
const DELETE_EXPIRED: [&str; 7] = [
    "DELETE FROM token_families WHERE id IN \
     (SELECT id FROM token_families WHERE expires_at < $1 LIMIT $2)",
    "DELETE FROM access_tokens WHERE id IN \
     (SELECT id FROM access_tokens WHERE expires_at < $1 LIMIT $2)",
    "DELETE FROM password_codes WHERE code_hash IN \
     (SELECT code_hash FROM password_codes WHERE expires_at < $1 LIMIT $2)",
    "DELETE FROM assertion_jtis WHERE (client_id, jti) IN \
     (SELECT client_id, jti FROM assertion_jtis WHERE expires_at < $1 LIMIT $2)",
    "DELETE FROM source_failures WHERE ip IN \
     (SELECT ip FROM source_failures WHERE drained_at < $1 LIMIT $2)",
    "DELETE FROM mfa_tokens WHERE token_hash IN \
     (SELECT token_hash FROM mfa_tokens WHERE expires_at + 3600 < $1 LIMIT $2)",
    "DELETE FROM mfa_failures WHERE user_id IN \
     (SELECT user_id FROM mfa_failures WHERE drained_at < $1 LIMIT $2)",
];

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> MaintenanceStore for SqlStore<DB, H> {
    async fn ping(&self) -> Result<(), StoreError> {
        execute(&self.pool, "SELECT 1", &[]).await.map(drop)
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn delete_expired(&self, now: i64, batch_size: u32) -> Result<u64, StoreError> {
        let params = [now.into(), i64::from(batch_size).into()];
        let mut deleted = 0;
        for sql in DELETE_EXPIRED {
            deleted += execute(&self.pool, sql, &params).await?;
        }
        Ok(deleted)
    }
}
