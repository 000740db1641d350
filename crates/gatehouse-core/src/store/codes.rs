//! [`CodeStore`]: single-use values kept by hash until they expire: the one-time password codes
//! of the secure code flow, and the `jti`s of client assertions (RFC 7523 §3 item 7).

use async_trait::async_trait;

use super::StoreError;
use crate::client::ClientId;

/// One-time codes and assertion `jti`s: each can be consumed once.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Records a client assertion's `jti` until `expires_at` (RFC 7523 §3 item 7). `true` the
    /// first time; `false` when the same client used the same `jti` in an assertion that has not
    /// expired (a replay). Atomic: of two concurrent calls, one gets `false`.
    async fn consume_assertion_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Stores a one-time password code (by its hash) for `client_id`, and forgets codes that
    /// expired before `now`.
    async fn insert_password_code(
        &self,
        code_hash: &str,
        client_id: &ClientId,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Marks a code used: `true` exactly once, for the client it was issued to, before it
    /// expires; `false` otherwise. Atomic: of two concurrent calls, one gets `true`.
    async fn consume_password_code(
        &self,
        code_hash: &str,
        client_id: &ClientId,
        now: i64,
    ) -> Result<bool, StoreError>;
}
