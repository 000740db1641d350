//! [`CodeStore`] on SQL: `password_codes` (one-time codes, by hash) and `assertion_jtis` (the
//! replay cache of RFC 7523 client assertions). Each is consumed by one conditional statement,
//! so of concurrent attempts exactly one wins.

use async_trait::async_trait;
use gatehouse_core::client::ClientId;
use gatehouse_core::store::{CodeStore, StoreError};

use super::{execute, fetch_optional, HotPath, SqlStore};
use crate::backend::Backend;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> CodeStore for SqlStore<DB, H> {
    async fn consume_assertion_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM assertion_jtis WHERE expires_at < $1";
        execute(&self.pool, sql, &[now.into()]).await?;
        // A row that is still live makes the conflict clause skip the update, so nothing is
        // returned: that is the replay. An expired leftover is taken over.
        let sql = "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
                   WHERE assertion_jtis.expires_at < $4 RETURNING jti";
        let params = [
            client_id.as_str().into(),
            jti.into(),
            expires_at.into(),
            now.into(),
        ];
        let row = fetch_optional(&self.pool, sql, &params, |_| Ok(())).await?;
        Ok(row.is_some())
    }

    async fn insert_password_code(
        &self,
        code_hash: &str,
        client_id: &ClientId,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM password_codes WHERE expires_at < $1";
        execute(&self.pool, sql, &[now.into()]).await?;
        let sql = "INSERT INTO password_codes (code_hash, client_id, expires_at) \
                   VALUES ($1, $2, $3)";
        let params = [
            code_hash.into(),
            client_id.as_str().into(),
            expires_at.into(),
        ];
        execute(&self.pool, sql, &params).await.map(drop)
    }

    async fn consume_password_code(
        &self,
        code_hash: &str,
        client_id: &ClientId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE password_codes SET used_at = $3 WHERE code_hash = $1 \
                   AND client_id = $2 AND used_at IS NULL AND expires_at > $3 RETURNING code_hash";
        let params = [code_hash.into(), client_id.as_str().into(), now.into()];
        let row = fetch_optional(&self.pool, sql, &params, |_| Ok(())).await?;
        Ok(row.is_some())
    }
}
