//! Client authentication with JWT assertions (RFC 7523 §2.2 and §3, RFC 7521 §4.2):
//! `private_key_jwt` against the client's registered public keys, and `client_secret_jwt`
//! (HS256/384/512 keyed with the client secret, which is kept sealed at rest).
//!
//! Checks, in order: the header's `alg` is on the allow-list for the key type; `iss` = `sub` =
//! the client id (and = `client_id` when the request sends one); the signature; `aud` names the
//! issuer (or, unless configured issuer-only, a token endpoint URL); `exp` is present, not past,
//! and neither `exp - iat` nor `exp - now` exceeds the maximum lifetime (one hour by default,
//! Okta's rule: RFC 7523 sets no cap, and client libraries such as Authlib sign assertions
//! valid for an hour); `nbf` and `iat` are not in the future; `jti`
//! is present and never seen before for this client while the assertion lives. Every clock
//! comparison allows the configured skew.

mod sealed_secret;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use crate::jwks::parse_jwks;

use crate::client::{Client, ClientId, TokenEndpointAuthMethod};
use crate::clock::Clock;
use crate::error::{AuthMethod, Error};
use crate::jwks;
use crate::store::{ClientStore, CodeStore};

/// The `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Default longest accepted assertion lifetime (`exp - iat`, and `exp` - now), in seconds. The
/// `jti` is remembered until `exp`, so the replay window lasts as long.
pub const DEFAULT_MAX_LIFETIME: i64 = 3600;
/// Default clock skew allowed on every time comparison, in seconds.
pub const DEFAULT_CLOCK_SKEW: i64 = 30;
/// The token endpoint paths, each a valid audience unless the policy is issuer-only.
pub const TOKEN_ENDPOINT_PATHS: [&str; 4] =
    ["/oauth/token", "/token", "/oauth2/v1/token", "/auth/token"];
/// The longest assertion accepted, in bytes.
const MAX_ASSERTION_LEN: usize = 16 * 1024;

/// Which `aud` values an assertion may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudiencePolicy {
    /// Only the issuer identifier, as the RFC 7523 revision recommends against audience
    /// confusion.
    Issuer,
    /// The issuer or a token endpoint URL, as today's client libraries send.
    #[default]
    IssuerOrTokenEndpoint,
}

/// The tunable limits of assertion checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionPolicy {
    /// Accepted audiences.
    pub audience: AudiencePolicy,
    /// Longest accepted `exp - iat` and `exp` - now, in seconds.
    pub max_lifetime: i64,
    /// Skew allowed on every time comparison, in seconds.
    pub clock_skew: i64,
}

impl Default for AssertionPolicy {
    fn default() -> Self {
        AssertionPolicy {
            audience: AudiencePolicy::default(),
            max_lifetime: DEFAULT_MAX_LIFETIME,
            clock_skew: DEFAULT_CLOCK_SKEW,
        }
    }
}

/// Opens a client secret sealed at rest, for `client_secret_jwt`. Kept behind a trait so the
/// server key's implementation (the `sealing` module) can be swapped without touching this
/// module.
pub trait SecretSealer: Send + Sync {
    /// Seals `secret` of `client` for storage.
    fn seal(&self, client: &ClientId, secret: &SecretString) -> Result<String, Error>;
    /// The plaintext of `sealed`, which was sealed for `client`.
    fn open(&self, client: &ClientId, sealed: &str) -> Result<SecretString, Error>;
}

/// Verifies client assertions.
pub struct AssertionVerifier {
    clients: Arc<dyn ClientStore>,
    codes: Arc<dyn CodeStore>,
    clock: Arc<dyn Clock>,
    audiences: Vec<String>,
    policy: AssertionPolicy,
    opener: Option<Arc<dyn SecretSealer>>,
}

/// The claims gatehouse reads from an assertion.
#[derive(Debug, Clone, Default, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl AssertionVerifier {
    /// A verifier for assertions addressed to `issuer` from clients of `clients`, each `jti`
    /// used once (remembered in `codes`).
    pub fn new(
        clients: Arc<dyn ClientStore>,
        codes: Arc<dyn CodeStore>,
        clock: Arc<dyn Clock>,
        issuer: &str,
        policy: AssertionPolicy,
    ) -> Self {
        AssertionVerifier {
            clients,
            codes,
            clock,
            audiences: audiences(issuer, policy.audience),
            policy,
            opener: None,
        }
    }

    /// Enables `client_secret_jwt`, opening sealed secrets with `opener`.
    pub fn with_sealer(mut self, sealer: Arc<dyn SecretSealer>) -> Self {
        self.opener = Some(sealer);
        self
    }

    /// Whether `client_secret_jwt` is enabled.
    pub fn supports_client_secret_jwt(&self) -> bool {
        self.opener.is_some()
    }

    /// The client the assertion proves, or why it was [`Refused`]; `Err` only when the
    /// assertion could not be judged (the store failed).
    pub async fn authenticate(
        &self,
        client_id: Option<&str>,
        assertion: &str,
    ) -> Result<Result<Client, Refused>, Error> {
        let (header, claims) = match peek(assertion) {
            Ok(peeked) => peeked,
            Err(_) => return Ok(Err(Refused::new(AssertionFailure::Malformed, None, None))),
        };
        let method = if jwks::HMAC_ALGS.contains(&header.alg) {
            AuthMethod::ClientSecretJwt
        } else {
            AuthMethod::PrivateKeyJwt
        };
        let sub = claims.sub.as_deref();
        let fail = |failure| Ok(Err(Refused::new(failure, Some(method), sub)));
        let Some(sub) = sub else {
            return fail(AssertionFailure::NoSubject);
        };
        if claims.iss.as_deref() != Some(sub) || client_id.is_some_and(|id| id != sub) {
            return fail(AssertionFailure::SubjectMismatch);
        }
        let client = match ClientId::parse(sub) {
            Ok(id) => self.clients.find_client(&id).await?,
            Err(_) => None,
        };
        let Some(client) = client else {
            return fail(AssertionFailure::UnknownClient);
        };
        let opener = self.opener.as_deref();
        let verified = verify_signature(
            &client,
            assertion,
            header.alg,
            header.kid.as_deref(),
            opener,
        )?;
        let Some(verified) = verified else {
            return fail(AssertionFailure::BadSignature);
        };
        if let Err(failure) =
            check_claims(&verified, &self.audiences, &self.policy, self.clock.now())
        {
            return fail(failure);
        }
        let (jti, exp) = match (&verified.jti, verified.exp) {
            (Some(jti), Some(exp)) => (jti, exp),
            _ => return fail(AssertionFailure::NoJti),
        };
        let now = self.clock.now();
        let expires = exp + self.policy.clock_skew;
        if !self
            .codes
            .consume_assertion_jti(&client.id, jti, expires, now)
            .await?
        {
            return fail(AssertionFailure::Replayed);
        }
        Ok(Ok(client))
    }
}

/// Which check an assertion failed: a fixed set, named in audit events and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionFailure {
    /// Not a JWT of an allowed alg, or too long.
    Malformed,
    /// No `sub`.
    NoSubject,
    /// `iss`, `sub` and `client_id` differ.
    SubjectMismatch,
    /// `sub` names no client.
    UnknownClient,
    /// No key of the client (or method it may use) verifies the signature.
    BadSignature,
    /// `aud` is not this server.
    Audience,
    /// No `exp`.
    NoExpiry,
    /// `exp` is past.
    Expired,
    /// `exp - iat` or `exp` - now is longer than the maximum lifetime.
    TooLong,
    /// `nbf` or `iat` is in the future.
    NotYetValid,
    /// No `jti`.
    NoJti,
    /// The `jti` was used before.
    Replayed,
}

impl AssertionFailure {
    /// The name recorded in events (`detail.reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionFailure::Malformed => "assertion_malformed",
            AssertionFailure::NoSubject => "assertion_no_sub",
            AssertionFailure::SubjectMismatch => "assertion_sub_mismatch",
            AssertionFailure::UnknownClient => "unknown_client",
            AssertionFailure::BadSignature => "assertion_bad_signature",
            AssertionFailure::Audience => "assertion_audience",
            AssertionFailure::NoExpiry => "assertion_no_exp",
            AssertionFailure::Expired => "assertion_expired",
            AssertionFailure::TooLong => "assertion_lifetime",
            AssertionFailure::NotYetValid => "assertion_not_yet_valid",
            AssertionFailure::NoJti => "assertion_no_jti",
            AssertionFailure::Replayed => "assertion_replayed",
        }
    }

    /// The `error_description` sent to the client.
    fn description(self) -> &'static str {
        match self {
            AssertionFailure::Malformed => {
                "the client assertion is not a well-formed JWT with an allowed alg"
            }
            AssertionFailure::NoSubject => "the assertion has no sub",
            AssertionFailure::SubjectMismatch => {
                "iss and sub of the assertion must both be the client_id"
            }
            AssertionFailure::UnknownClient | AssertionFailure::BadSignature => {
                "client authentication failed"
            }
            AssertionFailure::Audience => "the assertion's aud is not this server",
            AssertionFailure::NoExpiry => "the assertion has no exp",
            AssertionFailure::Expired => "the assertion has expired",
            AssertionFailure::TooLong => {
                "the assertion lives longer than this server accepts (exp is too far after iat or now)"
            }
            AssertionFailure::NotYetValid => "the assertion is not valid yet",
            AssertionFailure::NoJti => "the assertion has no jti",
            AssertionFailure::Replayed => "the assertion was used before (jti replay)",
        }
    }
}

/// A refused assertion: which check failed, the unverified `sub` it claimed, and the
/// `invalid_client` answer.
#[derive(Debug)]
pub struct Refused {
    /// The check that failed.
    pub failure: AssertionFailure,
    /// The `sub` the assertion claimed, unverified.
    pub subject: Option<String>,
    /// The answer to send.
    pub error: Error,
}

impl Refused {
    fn new(failure: AssertionFailure, method: Option<AuthMethod>, sub: Option<&str>) -> Self {
        Refused {
            failure,
            subject: sub.map(str::to_owned),
            error: Error::InvalidClient {
                method: method.unwrap_or(AuthMethod::PrivateKeyJwt),
                description: failure.description().into(),
            },
        }
    }
}

/// The verified claims when a key of `client` checks the signature; `None` when none does or the
/// client may not use this method.
fn verify_signature(
    client: &Client,
    assertion: &str,
    alg: Algorithm,
    kid: Option<&str>,
    opener: Option<&dyn SecretSealer>,
) -> Result<Option<Claims>, Error> {
    let allowed = client.settings.token_endpoint_auth_method;
    let keys: Vec<DecodingKey> = if jwks::HMAC_ALGS.contains(&alg) {
        let permitted = allowed == Some(TokenEndpointAuthMethod::ClientSecretJwt);
        match (opener, &client.settings.sealed_secret, permitted) {
            (Some(opener), Some(sealed), true) => {
                let secret = opener.open(&client.id, sealed)?;
                vec![DecodingKey::from_secret(secret.expose_secret().as_bytes())]
            }
            _ => return Ok(None),
        }
    } else {
        let permitted = allowed.is_none_or(|m| m == TokenEndpointAuthMethod::PrivateKeyJwt);
        match (&client.settings.jwks, permitted) {
            (Some(jwks), true) => jwks::candidates(&parse_jwks(jwks)?, alg, kid),
            _ => return Ok(None),
        }
    };
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    Ok(keys.iter().find_map(|key| {
        jsonwebtoken::decode::<Claims>(assertion, key, &validation)
            .ok()
            .map(|d| d.claims)
    }))
}

/// `token_endpoint_auth_methods_supported` for the discovery document (RFC 8414 §2).
pub fn auth_methods_supported(client_secret_jwt: bool) -> Vec<&'static str> {
    TokenEndpointAuthMethod::ALL
        .into_iter()
        .filter(|m| client_secret_jwt || *m != TokenEndpointAuthMethod::ClientSecretJwt)
        .map(TokenEndpointAuthMethod::as_str)
        .collect()
}

/// `token_endpoint_auth_signing_alg_values_supported` for the discovery document (RFC 8414
/// §2): never `none`.
pub fn signing_algs_supported(client_secret_jwt: bool) -> Vec<String> {
    let hmac = jwks::HMAC_ALGS.iter().filter(|_| client_secret_jwt);
    jwks::ASYMMETRIC_ALGS
        .iter()
        .chain(hmac)
        .map(|a| jwks::alg_name(*a))
        .collect()
}

/// The accepted audiences for `issuer`.
pub fn audiences(issuer: &str, policy: AudiencePolicy) -> Vec<String> {
    let base = issuer.trim_end_matches('/');
    let mut out = vec![issuer.to_owned()];
    if base != issuer {
        out.push(base.to_owned());
    }
    if policy == AudiencePolicy::IssuerOrTokenEndpoint {
        out.extend(TOKEN_ENDPOINT_PATHS.iter().map(|p| format!("{base}{p}")));
    }
    out
}

/// The header of `assertion` if its shape passes the checks that
/// [`AssertionVerifier::authenticate`] runs before any store access (length, header, allowed
/// `alg`, claims JSON). Nothing is verified; exposed for the fuzz targets in `fuzz/`.
pub fn inspect_unverified(assertion: &str) -> Result<jsonwebtoken::Header, Error> {
    peek(assertion).map(|(header, _)| header)
}

/// The header and the unverified claims, to find the client and its key. Nothing read here is
/// trusted until the signature verified.
fn peek(assertion: &str) -> Result<(jsonwebtoken::Header, Claims), Error> {
    let malformed = || Error::InvalidClient {
        method: AuthMethod::PrivateKeyJwt,
        description: "the client assertion is not a well-formed JWT with an allowed alg".into(),
    };
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err(malformed());
    }
    // `decode_header` knows no `none`, so an unsigned assertion fails right here.
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed())?;
    if !jwks::ASYMMETRIC_ALGS.contains(&header.alg) && !jwks::HMAC_ALGS.contains(&header.alg) {
        return Err(malformed());
    }
    let payload = assertion.split('.').nth(1).ok_or_else(malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    let claims: Claims = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    Ok((header, claims))
}

/// RFC 7523 §3 items 3-7 on verified claims.
fn check_claims(
    c: &Claims,
    audiences: &[String],
    policy: &AssertionPolicy,
    now: i64,
) -> Result<(), AssertionFailure> {
    let skew = policy.clock_skew;
    let aud_ok = match &c.aud {
        Some(Audience::One(a)) => audiences.contains(a),
        Some(Audience::Many(list)) => list.iter().any(|a| audiences.contains(a)),
        None => false,
    };
    if !aud_ok {
        return Err(AssertionFailure::Audience);
    }
    let exp = c.exp.ok_or(AssertionFailure::NoExpiry)?;
    if exp + skew <= now {
        return Err(AssertionFailure::Expired);
    }
    let lifetime_from_iat = c.iat.map_or(0, |iat| exp.saturating_sub(iat));
    if exp.saturating_sub(now) > policy.max_lifetime + skew
        || lifetime_from_iat > policy.max_lifetime
    {
        return Err(AssertionFailure::TooLong);
    }
    if c.nbf.is_some_and(|nbf| nbf > now + skew) || c.iat.is_some_and(|iat| iat > now + skew) {
        return Err(AssertionFailure::NotYetValid);
    }
    if c.jti.as_deref().is_none_or(str::is_empty) {
        return Err(AssertionFailure::NoJti);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
