//! Custom token claims (issue 21): what a user carries besides their identity ([`profile`]:
//! `attributes`, a bounded JSON object, and `roles`, a bounded list of names), what each client
//! maps into its tokens ([`mapper`]: a static value, a user attribute or the user's roles, gated
//! by a scope, aimed at the access token, the id_token, UserInfo and introspection), and what one
//! token or response of a client releases ([`release`]: bounded in size, never a registered
//! claim). See docs/claims.md.

pub mod mapper;
pub mod profile;
pub mod release;

pub use mapper::{ClaimMapper, ClaimSource, ClaimTarget, RESERVED_CLAIMS};
pub use profile::{Attributes, Roles};
pub use release::{
    client_claims, mapped_claims, merge_mapped, Released, UserData, MAX_MAPPED_CLAIMS_BYTES,
};
