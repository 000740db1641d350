//! gatehouse-core: the OAuth 2.0 logic of gatehouse, with no HTTP and no SQL.
//!
//! gatehouse serves the Resource Owner Password Credentials grant (RFC 6749 §4.3), and the
//! Client Credentials grant (§4.4) for machine-to-machine callers. This crate
//! holds everything that decides an answer; the HTTP layer parses input into the types here and
//! the storage crate implements [`store::Store`].
//!
//! - [`error`]: the one error type, mapped onto RFC 6749 §5.2 by the HTTP layer.
//! - [`clock`]: the only place that reads the time.
//! - [`scope`], [`client`], [`user`]: validated newtypes and the records gatehouse keeps.
//! - [`claims`]: users' attributes and roles, and the claims clients map them to.
//! - [`password`]: argon2id hashing on a bounded pool of blocking threads, admitted by
//!   [`hash_admission`] (a burst queues, a standing queue is shed); [`hash_ceiling`]: the
//!   highest cost of a stored hash that is ever computed.
//! - [`client_auth`]: client authentication (RFC 6749 §2.3); [`client_assertion`]: RFC 7523 JWT
//!   client assertions, checked against the JWK Sets of [`jwks`].
//! - [`authorize`]: one-time codes of Aidbox's secure code flow.
//! - [`admin`]: the application layer the admin API and the CLI share: clients, users, second
//!   factors, audit events and signing keys.
//! - [`sealing`]: encryption at rest of private keys and the few client secrets kept readable.
//! - [`store`]: the storage trait.
//! - [`telemetry`]: the metrics gatehouse records, by name.
//! - [`webhook`]: audit events sent to HTTP endpoints (Standard Webhooks), from an outbox the
//!   database fills in the event's own transaction.
//! - [`lockout`], [`throttle`], [`login_guard`]: the brute-force defence (per account, per
//!   address); [`audit`]: the audit log it and the services record events in; [`rejection`]:
//!   requests refused before any credential check, counted and aggregated, not stored one by one.
//!
//! The services, each holding only what it needs (the store capabilities it uses, the clock,
//! and `Arc`s of the shared [`token::identity::IssuerIdentity`] — issuer, key ring, sealer —,
//! [`audit::AuditLog`] and [`login_guard::LoginGuard`]):
//!
//! - [`grant::Grants`] runs token requests (one module per grant), making tokens with
//!   [`grant::TokenIssuer`]; [`mfa::SecondFactor`] checks second factors of password logins.
//! - [`mfa::api::Mfa`]: Auth0's MFA API (`/mfa/*`).
//! - [`introspection::Introspection`], [`revocation::Revocation`], [`userinfo::UserInfo`]:
//!   RFC 7662, RFC 7009, OpenID Connect §5.3; all three find presented access tokens through
//!   [`token::resolve::AccessTokens`].
//! - [`discovery::Discovery`]: RFC 8414 and OpenID Connect Discovery metadata.
//! - [`token`]: signing keys and the ring in force ([`token::key_cache::Keys`]), JWT (RFC 9068)
//!   and opaque access tokens, id_tokens.
#![warn(missing_docs)]

pub mod account;
pub mod admin;
pub mod audit;
pub mod authorize;
pub mod breached;
pub mod claims;
pub mod client;
pub mod client_assertion;
pub mod client_auth;
pub mod client_credentials;
pub mod clock;
pub mod console;
pub mod discovery;
pub mod error;
pub mod external_users;
pub mod grant;
pub mod hash_admission;
pub mod hash_ceiling;
pub mod introspection;
pub mod jwks;
pub mod legacy_hash;
pub mod lockout;
pub mod login_guard;
pub mod mfa;
pub mod password;
pub mod password_policy;
pub mod password_rules;
pub mod random;
pub mod rejection;
pub mod revocation;
pub mod scope;
pub mod sealing;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod token;
pub mod user;
pub mod user_import;
pub mod userinfo;
pub mod webhook;

pub use error::Error;
