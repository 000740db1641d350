//! [`TokenStore`] on SQL: every method is on the request hot path, so each goes through the back
//! end's [`HotPath`]; what is here is the mapping of the token tables' rows, for the back ends
//! that read them through sqlx.

use async_trait::async_trait;
use gatehouse_core::store::{
    AccessTokenRecord, Event, RefreshTokenRecord, StoreError, TokenFamily, TokenStore,
};

use super::{HotPath, Rotation, SqlStore};
use crate::backend::Backend;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> TokenStore for SqlStore<DB, H> {
    async fn record_issued_tokens(
        &self,
        family: Option<&TokenFamily>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        let hot = &self.hot;
        hot.record_issued_tokens(&self.pool, family, refresh, access)
            .await
    }

    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError> {
        self.hot.find_refresh_token(&self.pool, token_hash).await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        successor: &RefreshTokenRecord,
        access: &AccessTokenRecord,
    ) -> Result<bool, StoreError> {
        let rotation = Rotation {
            old_hash,
            now,
            successor,
            access,
            event: None,
        };
        self.hot.rotate_refresh_token(&self.pool, rotation).await
    }

    async fn rotate_refresh_token_recorded(
        &self,
        old_hash: &str,
        now: i64,
        successor: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let rotation = Rotation {
            old_hash,
            now,
            successor,
            access,
            event: Some(event),
        };
        self.hot.rotate_refresh_token(&self.pool, rotation).await
    }

    async fn revoke_token_family(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
        self.hot
            .revoke_token_family(&self.pool, family_id, now)
            .await
    }

    async fn find_access_token(&self, id: &str) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.hot.find_access_token(&self.pool, id).await
    }

    async fn find_access_token_with_username(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, String)>, StoreError> {
        self.hot
            .find_access_token_with_username(&self.pool, id)
            .await
    }

    async fn revoke_access_token(&self, id: &str) -> Result<(), StoreError> {
        self.hot.revoke_access_token(&self.pool, id).await
    }
}

/// The family in a row that has the family's columns, `created_at` as `family_created_at`.
pub(crate) fn family_from_row<DB: Backend>(row: &DB::Row) -> Result<TokenFamily, sqlx::Error> {
    Ok(TokenFamily {
        id: DB::text(row, "family_id")?,
        client_id: DB::text(row, "client_id")?,
        user_id: DB::text(row, "user_id")?,
        auth_time: DB::int(row, "auth_time")?,
        created_at: DB::int(row, "family_created_at")?,
        expires_at: DB::int(row, "expires_at")?,
        revoked_at: DB::opt_int(row, "revoked_at")?,
    })
}

/// The refresh token in a row of `refresh_tokens`' columns.
pub(crate) fn refresh_from_row<DB: Backend>(
    row: &DB::Row,
) -> Result<RefreshTokenRecord, sqlx::Error> {
    Ok(RefreshTokenRecord {
        token_hash: DB::text(row, "token_hash")?,
        family_id: DB::text(row, "family_id")?,
        parent_hash: DB::opt_text(row, "parent_hash")?,
        scope: DB::text(row, "scope")?,
        created_at: DB::int(row, "created_at")?,
        idle_expires_at: DB::int(row, "idle_expires_at")?,
        used_at: DB::opt_int(row, "used_at")?,
    })
}

/// The access token in a row of `access_tokens`' columns and its family's `revoked_at`.
pub(crate) fn access_from_row<DB: Backend>(
    row: &DB::Row,
) -> Result<AccessTokenRecord, sqlx::Error> {
    let revoked = DB::boolean(row, "revoked")?;
    let family_revoked = DB::opt_int(row, "revoked_at")?;
    Ok(AccessTokenRecord {
        id: DB::text(row, "id")?,
        family_id: DB::opt_text(row, "family_id")?,
        client_id: DB::text(row, "client_id")?,
        user_id: DB::text(row, "user_id")?,
        scope: DB::text(row, "scope")?,
        auth_time: DB::int(row, "auth_time")?,
        issued_at: DB::int(row, "issued_at")?,
        expires_at: DB::int(row, "expires_at")?,
        revoked: revoked || family_revoked.is_some(),
    })
}
