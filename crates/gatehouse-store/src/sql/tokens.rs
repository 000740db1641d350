//! [`TokenStore`] on SQL: every method is on the request hot path, so each goes through the back
//! end's [`HotPath`].

use async_trait::async_trait;
use gatehouse_core::store::{
    AccessTokenRecord, Event, NewLogin, Recorded, RefreshTokenRecord, StoreError, TokenFamily,
    TokenOwner, TokenStore,
};

use super::{HotPath, Rotation, SqlStore};
use crate::backend::Backend;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> TokenStore for SqlStore<DB, H> {
    async fn record_login(&self, login: NewLogin<'_>) -> Result<Recorded, StoreError> {
        self.hot.record_login(login).await
    }

    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError> {
        self.hot.find_refresh_token(token_hash).await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        successor: &RefreshTokenRecord,
        access: &AccessTokenRecord,
    ) -> Result<bool, StoreError> {
        let rotation = Rotation::new(old_hash, now, successor, access, None);
        self.hot.rotate_refresh_token(rotation).await
    }

    async fn rotate_refresh_token_recorded(
        &self,
        old_hash: &str,
        now: i64,
        successor: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let rotation = Rotation::new(old_hash, now, successor, access, Some(event));
        self.hot.rotate_refresh_token(rotation).await
    }

    async fn revoke_token_family(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
        self.hot.revoke_token_family(family_id, now).await
    }

    async fn record_client_token(&self, access: &AccessTokenRecord) -> Result<bool, StoreError> {
        self.hot.record_client_token(access).await
    }

    async fn find_access_token(&self, id: &str) -> Result<Option<AccessTokenRecord>, StoreError> {
        Ok(self.hot.find_access_token(id).await?.map(|(a, _)| a))
    }

    async fn find_access_token_with_owner(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, Option<TokenOwner>)>, StoreError> {
        let found = self.hot.find_access_token(id).await?;
        Ok(found.and_then(|(a, owner)| match owner {
            // A client token has no user to find.
            None if a.is_client_token() => Some((a, None)),
            None => None,
            Some(owner) => Some((a, Some(owner))),
        }))
    }

    async fn revoke_access_token(&self, id: &str) -> Result<(), StoreError> {
        self.hot.revoke_access_token(id).await
    }
}
