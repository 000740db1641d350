//! Fuzzes the token request parsers (RFC 6749 §3.2, §4.3.2): the strict form and JSON body
//! parsers, then the value parsers the token route applies (grant type, client id, scope,
//! username). Beyond "no panic" it checks that parsed parameters hold no NUL byte and are never
//! empty, and that scope sets and usernames survive a second parse unchanged.

#![no_main]

use gatehouse_core::client::{ClientId, GrantType};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::Username;
use gatehouse_http::params::{form_decode, Params};
use libfuzzer_sys::fuzz_target;

/// Every parameter name the token endpoint reads.
const NAMES: [&str; 11] = [
    "grant_type",
    "username",
    "password",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "code",
    "refresh_token",
    "state",
];

fuzz_target!(|data: &[u8]| {
    for parsed in [Params::from_form(data), Params::from_json(data)] {
        if let Ok(params) = parsed {
            check(params);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(decoded) = form_decode(text) {
            assert!(
                decoded.len() <= text.len(),
                "decoding never grows the input"
            );
        }
    }
});

fn check(mut params: Params) {
    for name in NAMES {
        if let Some(value) = params.get(name) {
            assert!(!value.is_empty(), "{name}: empty values count as absent");
            assert!(!value.contains('\0'), "{name}: NUL got through");
        }
    }
    if let Some(grant_type) = params.get("grant_type") {
        let _ = GrantType::parse(grant_type);
    }
    if let Some(id) = params.get("client_id") {
        let _ = ClientId::parse(id);
    }
    if let Some(raw) = params.take("scope") {
        if let Ok(set) = ScopeSet::parse(&raw) {
            let again = ScopeSet::parse(&set.to_string());
            assert_eq!(
                again.ok(),
                Some(set),
                "a parsed scope set re-parses to itself"
            );
        }
    }
    if let Some(raw) = params.take("username") {
        if let Ok(name) = Username::parse(&raw) {
            let again = Username::parse(name.as_str());
            assert_eq!(again.ok(), Some(name), "a normalized username is stable");
        }
    }
}
