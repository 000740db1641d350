//! [`MaintenanceStore`]: what the server's upkeep asks of the database: whether it answers
//! (readiness), how busy its pool is (metrics), and the batched deletion of expired rows (the
//! cleanup job), with [`PoolStats`].

use async_trait::async_trait;

use super::StoreError;

/// How busy the database connection pool is, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool will open.
    pub max: u32,
}

/// Health, metrics and cleanup.
#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The connection pool's usage; all zero for a store without a pool.
    fn pool_stats(&self) -> PoolStats {
        PoolStats::default()
    }

    /// Deletes up to `batch_size` rows per table whose expiry is before `now` (tokens, codes,
    /// replay entries) and returns how many went; the cleanup job calls it until it returns
    /// less than a full batch, so no statement holds locks for long.
    async fn delete_expired(&self, now: i64, batch_size: u32) -> Result<u64, StoreError>;
}
