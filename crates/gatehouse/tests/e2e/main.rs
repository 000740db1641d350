//! End-to-end tests: the real `gatehouse` binary over real HTTP on a real database: a SQLite
//! file, and also PostgreSQL when `GATEHOUSE_TEST_POSTGRES_URL` is set (`backends.rs` reruns
//! the suite with `GATEHOUSE_TEST_BACKEND=postgres`). `GATEHOUSE_TEST_LOG=1` shows the logs.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod assertions;
mod authorize;
mod backends;
mod blocklist;
mod breached;
mod claims;
mod cleanup;
mod cli;
mod cli_parity;
mod client_auth;
mod client_credentials;
mod console;
mod console_browser;
mod console_pages;
mod console_security;
mod crash;
mod database;
mod discovery;
mod error_descriptions;
mod event_floods;
mod events;
mod hardened_input;
mod http2;
mod import;
mod introspect;
mod jose;
mod keys;
mod ldap_server;
mod libraries;
mod limits;
mod lockout;
mod logs;
mod mfa;
mod mfa_api;
mod mfa_races;
mod multi_instance;
mod ops;
mod overload;
mod passwords;
mod per_address;
#[cfg(target_os = "linux")]
mod priority;
mod refresh;
mod reply;
mod requests;
mod revoke;
mod seeds;
mod server;
mod session_limits;
mod sessions;
mod sessions_api;
mod sessions_cli;
mod signing_algs;
mod throttle;
mod tls;
mod token;
mod user_stores;
mod user_stores_http;
mod userinfo;
mod users;
mod webhook_receiver;
mod webhooks;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The header and claims of a compact JWS, unverified.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode = || -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts.next().expect("JWT part"))
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    let header = decode();
    let claims = decode();
    (header, claims)
}
