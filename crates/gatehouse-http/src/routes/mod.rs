//! One module per endpoint.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod authorize;
pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod introspect;
pub(crate) mod mfa;
pub(crate) mod ops;
pub(crate) mod revoke;
pub(crate) mod sessions;
pub(crate) mod token;
pub(crate) mod userinfo;
pub(crate) mod webhooks;
