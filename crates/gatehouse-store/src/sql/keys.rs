//! [`KeyStore`] on SQL: the `signing_keys` table, where `after_kid` (UNIQUE, migration 0003)
//! chains each key to its predecessor so that concurrent rotations add one key, not two.

use async_trait::async_trait;
use gatehouse_core::store::{KeyStore, StoreError, StoredKey};

use super::{execute, fetch_all, rows, HotPath, SqlStore};
use crate::backend::Backend;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> KeyStore for SqlStore<DB, H> {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let sql = "SELECT kid, alg, private_der, created_at, serves_default FROM signing_keys \
                   ORDER BY created_at, kid";
        fetch_all(&self.pool, sql, &[], rows::signing_key::<DB>).await
    }

    async fn insert_signing_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let sql = "INSERT INTO signing_keys (kid, alg, private_der, created_at, serves_default) \
                   VALUES ($1, $2, $3, $4, $5)";
        let params = [
            (&key.kid).into(),
            (&key.alg).into(),
            key.private_der.as_slice().into(),
            key.created_at.into(),
            key.serves_default.into(),
        ];
        execute(&self.pool, sql, &params).await.map(drop)
    }

    async fn insert_next_signing_key(
        &self,
        key: &StoredKey,
        after: Option<&str>,
    ) -> Result<(), StoreError> {
        // `after_kid` is UNIQUE (migration 0003): of two instances adding a successor to the
        // same key, one gets `Conflict`. '' marks the first key of an empty table.
        let sql = "INSERT INTO signing_keys \
                   (kid, alg, private_der, created_at, after_kid, serves_default) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        let params = [
            (&key.kid).into(),
            (&key.alg).into(),
            key.private_der.as_slice().into(),
            key.created_at.into(),
            after.unwrap_or("").into(),
            key.serves_default.into(),
        ];
        execute(&self.pool, sql, &params).await.map(drop)
    }
}
