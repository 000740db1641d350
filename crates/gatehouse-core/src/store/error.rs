//! [`StoreError`]: what can go wrong in storage, as every back end reports it, and its
//! conversion into the core's [`crate::Error`] (kept here so that `error` does not depend on the
//! store).

use crate::Error;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// The record exists already, or a concurrent change won.
    #[error("conflict")]
    Conflict,
    /// The database failed or could not be reached.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Error::NotFound("no such resource".into()),
            StoreError::Conflict => Error::Conflict("the resource already exists".into()),
            StoreError::Unavailable(source) => Error::Internal(source),
        }
    }
}
