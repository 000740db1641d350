//! [`ClientStore`]: the registered clients (RFC 6749 §2), read on every token request and
//! changed by the admin API and the CLI.

use async_trait::async_trait;

use super::StoreError;
use crate::client::{Client, ClientId};

/// The registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// The client with this id.
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    /// Every client, ordered by id.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Adds a client; `Conflict` if the id is taken.
    async fn insert_client(&self, client: &Client, now: i64) -> Result<(), StoreError>;
    /// Removes a client and, in the same transaction, every session (token family) with it, so
    /// a client re-created with the same id inherits nothing; `NotFound` if there is none. The
    /// number of sessions removed.
    async fn delete_client(&self, id: &ClientId) -> Result<u64, StoreError>;
    /// Replaces a client's secret hash and settings; `NotFound` if there is none.
    async fn update_client(&self, client: &Client) -> Result<(), StoreError>;
}
