//! Server metadata: RFC 8414 (`/.well-known/oauth-authorization-server`) and OpenID Connect
//! Discovery 1.0 (`/.well-known/openid-configuration`). Both list every endpoint, grant type,
//! client authentication method, signing algorithm and scope gatehouse serves. The id_token and
//! access-token algorithms are those in use: the algorithms of the keys in the ring (the
//! default key's first, then every key a client's `id_token_signed_response_alg` or
//! `access_token_alg` made), and HS256 for access tokens when a client signs with it.
//! [`Discovery`] serves the document, rendered again from the store at most every
//! [`KEY_RELOAD_SECS`].

use std::sync::{Arc, RwLock};

use serde_json::{json, Value};

use crate::client::{AccessTokenAlg, GrantType, OFFLINE_ACCESS};
use crate::clock::Clock;
use crate::error::Error;
use crate::scope::ScopeSet;
use crate::store::ClientStore;
use crate::token::key_cache::{Keys, KEY_RELOAD_SECS};
use crate::token::keys::SigningAlg;

/// The scopes gatehouse itself gives meaning to (OpenID Connect Core §5.4, §11).
pub const STANDARD_SCOPES: [&str; 5] = ["openid", "profile", "email", "phone", OFFLINE_ACCESS];

/// Serves the server metadata of one issuer.
#[derive(derive_new::new)]
pub struct Discovery {
    store: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
    keys: Arc<Keys>,
    issuer: String,
    /// The document as JSON text and when it was rendered.
    #[new(default)]
    rendered: RwLock<Option<(i64, Arc<str>)>>,
}

impl Discovery {
    /// The server metadata (RFC 8414, OpenID Connect Discovery) as JSON text. It lists the
    /// clients' scopes, so it is rendered again from the store when older than
    /// [`KEY_RELOAD_SECS`] (the bound within which every instance sees a change), and served as
    /// it is in between.
    pub async fn metadata_json(&self) -> Result<Arc<str>, Error> {
        let now = self.clock.now();
        {
            let cached = match self.rendered.read() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Some((at, json)) = cached.as_ref() {
                if now - at < KEY_RELOAD_SECS && *at <= now {
                    return Ok(json.clone());
                }
            }
        }
        let clients = self.store.list_clients().await?;
        let scopes = ScopeSet::from_trusted(clients.iter().flat_map(|c| c.settings.scopes.iter()));
        let algs = Algs {
            keys: self.keys.ring().await.algs(),
            hs256: clients
                .iter()
                .any(|c| c.settings.access_token_alg == AccessTokenAlg::Hs256),
        };
        let json: Arc<str> = Arc::from(metadata(&self.issuer, &scopes, &algs).to_string());
        let mut cached = match self.rendered.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        *cached = Some((now, json.clone()));
        Ok(json)
    }
}

/// The signing algorithms in use.
#[derive(Debug, Clone)]
pub struct Algs {
    /// The algorithms of the keys in the ring, the default key's first.
    pub keys: Vec<SigningAlg>,
    /// Whether a client's access tokens are HS256, keyed by its secret.
    pub hs256: bool,
}

/// The metadata document for `issuer`. `scopes` are the clients' scopes, listed after the
/// standard ones; `algs` the signing algorithms in use.
pub fn metadata(issuer: &str, scopes: &ScopeSet, algs: &Algs) -> Value {
    // The issuer is published byte for byte as configured, as tokens carry it (RFC 8414 §3.3
    // and OpenID Discovery §4.3 require the two to be identical); only the endpoint URLs are
    // built on it without a trailing slash.
    let base = issuer.trim_end_matches('/');
    let mut all = ScopeSet::from_trusted(STANDARD_SCOPES);
    all = ScopeSet::from_trusted(all.iter().chain(scopes.iter()));
    // Every endpoint that authenticates clients takes the same credentials, JWT assertions
    // (RFC 7523) included; a server key always exists, so client_secret_jwt is available.
    let auth_methods = crate::client_assertion::auth_methods_supported(true);
    let confidential: Vec<&str> = auth_methods
        .iter()
        .copied()
        .filter(|m| *m != "none")
        .collect();
    let server_algs: Vec<&str> = algs.keys.iter().map(|a| a.as_str()).collect();
    let mut access_algs = server_algs.clone();
    if algs.hs256 {
        access_algs.push("HS256");
    }
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": GrantType::ALL
            .iter()
            .map(|g| g.as_str())
            .chain([crate::mfa::GRANT_MFA_OTP, crate::mfa::GRANT_MFA_RECOVERY_CODE])
            .collect::<Vec<_>>(),
        // gatehouse has no authorization endpoint: no response type is served.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": confidential,
        "token_endpoint_auth_signing_alg_values_supported":
            crate::client_assertion::signing_algs_supported(true),
        "revocation_endpoint_auth_signing_alg_values_supported":
            crate::client_assertion::signing_algs_supported(true),
        "introspection_endpoint_auth_signing_alg_values_supported":
            crate::client_assertion::signing_algs_supported(true),
        "access_token_signing_alg_values_supported": access_algs,
        "id_token_signing_alg_values_supported": server_algs,
        "userinfo_signing_alg_values_supported": [],
        "subject_types_supported": ["public"],
        "scopes_supported": all.iter().collect::<Vec<_>>(),
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "preferred_username", "email",
            "email_verified", "phone_number", "phone_number_verified"
        ],
        "claim_types_supported": ["normal"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_every_endpoint_under_the_issuer() {
        let algs = Algs {
            keys: vec![SigningAlg::EdDSA],
            hs256: false,
        };
        let m = metadata(
            "https://auth.example.com/",
            &ScopeSet::parse("contacts.read").unwrap(),
            &algs,
        );
        // The issuer as configured, byte for byte; endpoints without a double slash.
        assert_eq!(m["issuer"], "https://auth.example.com/");
        assert_eq!(m["token_endpoint"], "https://auth.example.com/oauth/token");
        let scopes = m["scopes_supported"].as_array().unwrap();
        assert!(scopes.iter().any(|s| s == "contacts.read"));
        assert!(scopes.iter().any(|s| s == "openid"));
        let grants = m["grant_types_supported"].as_array().unwrap();
        assert!(grants.iter().any(|g| g == crate::mfa::GRANT_MFA_OTP));
        assert_eq!(m["id_token_signing_alg_values_supported"], json!(["EdDSA"]));
        assert_eq!(
            m["access_token_signing_alg_values_supported"],
            json!(["EdDSA"])
        );
    }

    /// Every algorithm in use is listed, the default first; HS256 only for access tokens.
    #[test]
    fn metadata_lists_the_signing_algorithms_in_use() {
        let algs = Algs {
            keys: vec![SigningAlg::EdDSA, SigningAlg::RS256],
            hs256: true,
        };
        let m = metadata("https://a.example", &ScopeSet::default(), &algs);
        assert_eq!(
            m["id_token_signing_alg_values_supported"],
            json!(["EdDSA", "RS256"])
        );
        assert_eq!(
            m["access_token_signing_alg_values_supported"],
            json!(["EdDSA", "RS256", "HS256"])
        );
    }
}
