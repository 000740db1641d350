//! Tokens: signing keys and the JWKS document ([`keys`]), the ring in force shared by the
//! services ([`key_cache`]) and the issuer identity around it ([`identity`]), JWT access tokens and id_tokens ([`jwt`]), opaque tokens
//! ([`opaque`]), OpenID Connect claims ([`id_token`]), and resolving a presented access token
//! ([`resolve`]), with the memory of verified tokens ([`verified`]).

pub mod id_token;
pub mod identity;
pub mod jwt;
pub mod key_cache;
pub mod keys;
pub mod opaque;
pub mod resolve;
pub mod verified;
