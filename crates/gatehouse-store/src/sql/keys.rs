//! [`KeyStore`] on SQL: the `signing_keys` table, where `after_kid` (UNIQUE, migration 0003)
//! chains each key to its predecessor so that concurrent rotations add one key, not two.

use async_trait::async_trait;
use gatehouse_core::store::{KeyStore, StoreError, StoredKey};

use super::{HotPath, SqlStore};
use crate::backend::Backend;
use crate::store_error;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> KeyStore for SqlStore<DB, H> {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let mut conn = self.conn().await?;
        let sql = "SELECT kid, alg, private_der, created_at FROM signing_keys \
                   ORDER BY created_at, kid";
        let rows = DB::fetch_all(&mut conn, sql, &[])
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok(StoredKey {
                    kid: DB::text(row, "kid")?,
                    alg: DB::text(row, "alg")?,
                    private_der: DB::bytes(row, "private_der")?,
                    created_at: DB::int(row, "created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(store_error)
    }

    async fn insert_signing_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let sql = "INSERT INTO signing_keys (kid, alg, private_der, created_at) \
                   VALUES ($1, $2, $3, $4)";
        let params = [
            (&key.kid).into(),
            (&key.alg).into(),
            key.private_der.as_slice().into(),
            key.created_at.into(),
        ];
        DB::execute(&mut conn, sql, &params)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn insert_next_signing_key(
        &self,
        key: &StoredKey,
        after: Option<&str>,
    ) -> Result<(), StoreError> {
        // `after_kid` is UNIQUE (migration 0003): of two instances adding a successor to the
        // same key, one gets `Conflict`. '' marks the first key of an empty table.
        let mut conn = self.conn().await?;
        let sql = "INSERT INTO signing_keys (kid, alg, private_der, created_at, after_kid) \
                   VALUES ($1, $2, $3, $4, $5)";
        let params = [
            (&key.kid).into(),
            (&key.alg).into(),
            key.private_der.as_slice().into(),
            key.created_at.into(),
            after.unwrap_or("").into(),
        ];
        DB::execute(&mut conn, sql, &params)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
