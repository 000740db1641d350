//! Clients (RFC 6749 §2): their identifiers, the grants and scopes they may use, and how their
//! tokens are made.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::claims::ClaimMapper;
use crate::error::Error;
use crate::scope::ScopeSet;
use crate::store::{SessionLimit, SessionLimitPolicy};
use crate::token::keys::SigningAlg;

/// The default access-token lifetime, in seconds (Connect: "a validity of one hour").
pub const DEFAULT_ACCESS_TOKEN_TTL: u32 = 3600;
/// The default absolute refresh-token lifetime: 30 days.
pub const DEFAULT_REFRESH_TOKEN_TTL: u32 = 30 * 24 * 3600;
/// The default idle refresh-token lifetime: 7 days.
pub const DEFAULT_REFRESH_TOKEN_IDLE_TTL: u32 = 7 * 24 * 3600;
/// The longest access-token lifetime a client may have: 24 hours. A superseded signing key stays
/// published this long after its successor was made, so every token it signed can be verified.
pub const MAX_ACCESS_TOKEN_TTL: u32 = 24 * 3600;
/// The scope that asks for a refresh token from clients that list it (OpenID Connect §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A client identifier: 1 to 128 characters from `A-Z a-z 0-9 . _ ~ @ -`, so it is safe in a
/// URL path, a Basic header and a log line alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client identifier.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'@' | b'-')
            });
        if ok {
            Ok(ClientId(raw.to_owned()))
        } else {
            Err(Error::invalid_request(
                "client_id must be 1 to 128 characters from A-Z a-z 0-9 . _ ~ @ -",
            ))
        }
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        ClientId::parse(&value)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The grants a client may be allowed to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.3.
    Password,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.4: a confidential client acting on its own behalf (machine to machine).
    ClientCredentials,
}

impl GrantType {
    /// Every grant type gatehouse knows.
    pub const ALL: [GrantType; 3] = [
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The `grant_type` wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    /// Parses a `grant_type` wire value.
    pub fn parse(raw: &str) -> Option<Self> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == raw)
    }
}

/// How access tokens for a client are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// A signed JWT (RFC 9068).
    #[default]
    Jwt,
    /// A random string, stored hashed and resolved by introspection.
    Opaque,
}

/// The client-authentication methods of RFC 7591 §2 (`token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// `client_secret` in the body.
    ClientSecretPost,
    /// A JWT assertion signed with a key of the client's JWKS (RFC 7523 §2.2).
    PrivateKeyJwt,
    /// A JWT assertion MACed (HS256/384/512) with the client secret.
    ClientSecretJwt,
    /// No authentication: a public client.
    None,
}

impl TokenEndpointAuthMethod {
    /// Every method, in the order discovery lists them.
    pub const ALL: [TokenEndpointAuthMethod; 5] = [
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
        TokenEndpointAuthMethod::PrivateKeyJwt,
        TokenEndpointAuthMethod::ClientSecretJwt,
        TokenEndpointAuthMethod::None,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenEndpointAuthMethod::ClientSecretJwt => "client_secret_jwt",
            TokenEndpointAuthMethod::None => "none",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        TokenEndpointAuthMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == raw)
    }
}

/// How a client's JWT access tokens are signed. Stored (and named in the admin API and on the
/// command line) as `server`, `EdDSA`, `ES256`, `RS256` or `HS256`; settings stored before the
/// per-client algorithms (`server`, `HS256`) read as they always did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenAlg {
    /// With the server's current default key, published in the JWKS (the default).
    #[default]
    ServerKey,
    /// With the server's current key of this algorithm, published in the JWKS (one is made when
    /// the ring has none).
    Key(SigningAlg),
    /// Legacy: HS256 keyed by the client secret, for clients that verify tokens with
    /// `jwt.verify(token, client_secret)`. The secret is then kept sealed, not hashed.
    Hs256,
}

impl AccessTokenAlg {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessTokenAlg::ServerKey => "server",
            AccessTokenAlg::Key(alg) => alg.as_str(),
            AccessTokenAlg::Hs256 => "HS256",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "server" => Some(AccessTokenAlg::ServerKey),
            "HS256" => Some(AccessTokenAlg::Hs256),
            other => SigningAlg::parse(other).ok().map(AccessTokenAlg::Key),
        }
    }

    /// What a wrong value is told.
    pub const EXPECTED: &'static str = "must be server, EdDSA, ES256, RS256 or HS256";
}

impl Serialize for AccessTokenAlg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AccessTokenAlg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        AccessTokenAlg::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("access_token_alg {}", Self::EXPECTED)))
    }
}

/// Whether a client's users must pass a second factor (see [`crate::mfa`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    /// Never asked (the default).
    #[default]
    Off,
    /// Asked of users who have an active factor.
    Optional,
    /// Asked of every user; one without a factor enrols one through `/mfa/associate`.
    Required,
}

impl MfaPolicy {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Off => "off",
            MfaPolicy::Optional => "optional",
            MfaPolicy::Required => "required",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [MfaPolicy::Off, MfaPolicy::Optional, MfaPolicy::Required]
            .into_iter()
            .find(|m| m.as_str() == raw)
    }
}

/// What a login whose (right) password is on a breached or common list does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachedPasswordPolicy {
    /// Nothing: the password is not looked up at login.
    Off,
    /// The login succeeds; an event and a metric record it, and the user is marked
    /// `password_change_required` (the default, so no login breaks on upgrade).
    #[default]
    Flag,
    /// The login is refused with Auth0's `password_leaked` until the password is changed.
    Block,
}

impl BreachedPasswordPolicy {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BreachedPasswordPolicy::Off => "off",
            BreachedPasswordPolicy::Flag => "flag",
            BreachedPasswordPolicy::Block => "block",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Off, Self::Flag, Self::Block]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }
}

/// A client's settings: everything but its identity and secret. Stored as one JSON document so
/// that new settings need no schema change; unknown or missing fields take their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientSettings {
    /// The grants this client may use.
    pub grant_types: Vec<GrantType>,
    /// The scopes this client may request.
    pub scopes: Vec<String>,
    /// The scopes granted when a request names none.
    pub default_scopes: Vec<String>,
    /// Access-token lifetime in seconds.
    pub access_token_ttl: u32,
    /// Absolute refresh-token lifetime in seconds.
    pub refresh_token_ttl: u32,
    /// Idle refresh-token lifetime in seconds.
    pub refresh_token_idle_ttl: u32,
    /// JWT or opaque access tokens.
    pub token_format: TokenFormat,
    /// Public keys for `private_key_jwt` assertions: a JWK Set (RFC 7517 §5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// The one authentication method this client may use; `None` accepts any method its
    /// registered credentials support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// Whether a client that has a secret must present it (Aidbox's
    /// `auth.password.secret_required`); `false` lets it authenticate with `client_id` alone.
    pub secret_required: bool,
    /// Aidbox's secure code flow: where `GET /auth/authorize` sends the one-time code. A client
    /// with a redirect URI must send a code with every password request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The client secret sealed under the server key, for `client_secret_jwt`; never shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<String>,
    /// How JWT access tokens are signed.
    pub access_token_alg: AccessTokenAlg,
    /// The algorithm of this client's id_tokens (OpenID Connect Dynamic Client Registration
    /// §2); `None` takes the server's default key. Auth0's SDKs accept RS256 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// Whether this (confidential) client may name its end user's address with the
    /// `auth0-forwarded-for` header, for the per-address throttle and the audit events.
    pub trust_forwarded_for: bool,
    /// Whether this client's users must pass a second factor.
    pub mfa: MfaPolicy,
    /// The most live sessions one user may hold with this client (0: no limit); `None` takes
    /// the server's `--max-sessions-per-user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sessions_per_user: Option<u32>,
    /// What a login beyond [`ClientSettings::max_sessions_per_user`] does; `None` takes the
    /// server's `--session-limit-policy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_limit_policy: Option<SessionLimitPolicy>,
    /// What a login with a breached or common password does; `None` takes the server's
    /// `--breached-password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breached_password: Option<BreachedPasswordPolicy>,
    /// The password rules of passwords set through this client, over the server's.
    #[serde(default, skip_serializing_if = "ClientPasswordPolicy::is_empty")]
    pub password_policy: ClientPasswordPolicy,
    /// Claims added to this client's tokens and responses (see [`crate::claims::mapper`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<ClaimMapper>,
}

/// A client's own password rules (the `password_policy` field); what it leaves out, the
/// server's policy decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPasswordPolicy {
    /// Fewest characters of a password set through this client; `None` takes the server's
    /// minimum (the shorter one when this client requires a second factor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Character classes a password set through this client must mix; `None` takes the
    /// server's `--password-require-classes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_classes: Option<u8>,
}

impl ClientPasswordPolicy {
    /// The rules' names, in the API's object and the CLI's `KEY=VALUE` list.
    pub const KEYS: &'static [&'static str] = &["min_length", "require_classes"];

    /// Whether it sets nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Sets the rule `key` from its text; `None` for an unknown key or a bad value.
    pub fn set(&mut self, key: &str, value: &str) -> Option<()> {
        match key {
            "min_length" => {
                self.min_length = Some(value.parse().ok().filter(|n| (1..=1024).contains(n))?)
            }
            "require_classes" => {
                self.require_classes = Some(value.parse().ok().filter(|n| *n <= 4)?)
            }
            _ => return None,
        }
        Some(())
    }
}

impl ClientSettings {
    /// The server key algorithm of this client's JWT access tokens (`None`: the default key;
    /// also for HS256, which no server key signs).
    pub fn access_token_key_alg(&self) -> Option<SigningAlg> {
        match self.access_token_alg {
            AccessTokenAlg::Key(alg) => Some(alg),
            AccessTokenAlg::ServerKey | AccessTokenAlg::Hs256 => None,
        }
    }

    /// The algorithms this client names, each of which needs a current key in the ring.
    pub fn signing_algs(&self) -> Vec<SigningAlg> {
        let mut algs: Vec<SigningAlg> = self.id_token_signed_response_alg.into_iter().collect();
        if let Some(alg) = self.access_token_key_alg() {
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        algs
    }

    /// The session limit in force for this client, its own settings over the server's
    /// `default` (a maximum of 0 is no limit).
    pub fn session_limit(&self, default: SessionLimit) -> Option<SessionLimit> {
        let max = self.max_sessions_per_user.unwrap_or(default.max);
        let policy = self.session_limit_policy.unwrap_or(default.policy);
        (max > 0).then_some(SessionLimit { max, policy })
    }
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            grant_types: vec![GrantType::Password],
            scopes: Vec::new(),
            default_scopes: Vec::new(),
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
            refresh_token_idle_ttl: DEFAULT_REFRESH_TOKEN_IDLE_TTL,
            token_format: TokenFormat::Jwt,
            jwks: None,
            token_endpoint_auth_method: None,
            secret_required: true,
            redirect_uri: None,
            sealed_secret: None,
            access_token_alg: AccessTokenAlg::ServerKey,
            id_token_signed_response_alg: None,
            trust_forwarded_for: false,
            mfa: MfaPolicy::Off,
            max_sessions_per_user: None,
            session_limit_policy: None,
            breached_password: None,
            password_policy: ClientPasswordPolicy::default(),
            claims: Vec::new(),
        }
    }
}

impl ClientSettings {
    /// Checks the settings for consistency: valid scope tokens, default scopes among the
    /// allowed ones, non-zero lifetimes.
    pub fn validate(&self) -> Result<(), Error> {
        let allowed = ScopeSet::parse(&self.scopes.join(" "))?;
        let defaults = ScopeSet::parse(&self.default_scopes.join(" "))?;
        if let Some(s) = defaults.first_missing_from(&allowed) {
            return Err(Error::invalid_request(format!(
                "default scope {s} is not among the client's scopes"
            )));
        }
        if self.access_token_ttl == 0
            || self.refresh_token_ttl == 0
            || self.refresh_token_idle_ttl == 0
        {
            return Err(Error::invalid_request(
                "token lifetimes must be at least one second",
            ));
        }
        if let Some(uri) = &self.redirect_uri {
            validate_redirect_uri(uri)?;
        }
        if let Some(jwks) = &self.jwks {
            crate::jwks::parse_jwks(jwks)?;
        }
        if self.access_token_ttl > MAX_ACCESS_TOKEN_TTL {
            return Err(Error::invalid_request(format!(
                "the access-token lifetime must be at most {MAX_ACCESS_TOKEN_TTL} seconds"
            )));
        }
        if self.access_token_alg != AccessTokenAlg::ServerKey
            && self.token_format != TokenFormat::Jwt
        {
            return Err(Error::invalid_request(format!(
                "access_token_alg {} applies to JWT access tokens only",
                self.access_token_alg.as_str()
            )));
        }
        Ok(())
    }
}

/// A redirect URI is absolute, `https` (or `http` on a loopback host, for development), without
/// a fragment (RFC 6749 §3.1.2) and without whitespace.
pub fn validate_redirect_uri(uri: &str) -> Result<(), Error> {
    let bad = |what: &str| Err(Error::InvalidBody(format!("redirect_uri: {what}").into()));
    if uri.len() > 2048 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must be at most 2048 characters without whitespace");
    }
    if uri.contains('#') {
        return bad("must not contain a fragment (RFC 6749 section 3.1.2)");
    }
    let rest = if let Some(rest) = uri.strip_prefix("https://") {
        rest
    } else if let Some(rest) = uri.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        if !matches!(name, "localhost" | "127.0.0.1" | "::1") {
            return bad("must use https (http only for localhost)");
        }
        rest
    } else {
        return bad("must be an absolute https URL");
    };
    if rest.split(['/', '?']).next().unwrap_or("").is_empty() {
        return bad("must name a host");
    }
    Ok(())
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its identifier.
    pub id: ClientId,
    /// The argon2id PHC hash of its secret; `None` for a public client and for a client whose
    /// secret is sealed instead.
    pub secret_hash: Option<String>,
    /// Its secret sealed under the server key (see [`crate::sealing`]), only for clients whose
    /// access tokens are signed with HS256 keyed by the secret.
    pub secret_sealed: Option<Vec<u8>>,
    /// Everything else.
    pub settings: ClientSettings,
}

impl Client {
    /// Whether the client has no secret (RFC 6749 §2.1).
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none() && self.secret_sealed.is_none()
    }

    /// The associated data a sealed secret of this client is bound to.
    pub fn secret_seal_context(&self) -> String {
        format!("client-secret:{}", self.id)
    }

    /// Whether a grant that ends with `granted` also issues a refresh token: the client must
    /// allow the refresh_token grant, and a client that lists `offline_access` among its scopes
    /// gets one only when `offline_access` was granted (Oracle's behaviour).
    pub fn issues_refresh_token(&self, granted: &ScopeSet) -> bool {
        self.allows_grant(GrantType::RefreshToken)
            && (!self.allowed_scopes().contains(OFFLINE_ACCESS) || granted.contains(OFFLINE_ACCESS))
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.settings.grant_types.contains(&grant)
    }

    /// The scopes the client may request.
    pub fn allowed_scopes(&self) -> ScopeSet {
        ScopeSet::from_trusted(&self.settings.scopes)
    }

    /// The scopes granted when a request names none.
    pub fn default_scopes(&self) -> ScopeSet {
        ScopeSet::from_trusted(&self.settings.default_scopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_restricted_to_url_safe_characters() {
        assert!(ClientId::parse("ro-default-client").is_ok());
        assert!(ClientId::parse("a:b").is_err());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn default_scopes_must_be_allowed() {
        let settings = ClientSettings {
            scopes: vec!["read".into()],
            default_scopes: vec!["write".into()],
            ..ClientSettings::default()
        };
        assert!(settings.validate().is_err());
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragment() {
        for ok in [
            "https://app.example.com/cb",
            "http://localhost:3449/auth.html",
            "http://127.0.0.1/x",
            "http://[::1]:80/",
        ] {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
            "/relative",
            "https:///nohost",
            "javascript:alert(1)",
            "http://localhost.evil.com/",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_token_lifetime_is_capped_at_a_day() {
        let settings = ClientSettings {
            access_token_ttl: MAX_ACCESS_TOKEN_TTL + 1,
            ..ClientSettings::default()
        };
        assert!(settings.validate().is_err());
    }

    #[test]
    fn refresh_tokens_follow_offline_access_only_for_clients_that_list_it() {
        let mut client = Client {
            id: ClientId::parse("c").unwrap(),
            secret_hash: None,
            secret_sealed: None,
            settings: ClientSettings {
                grant_types: vec![GrantType::Password, GrantType::RefreshToken],
                scopes: vec!["openid".into()],
                ..ClientSettings::default()
            },
        };
        let openid = ScopeSet::parse("openid").unwrap();
        assert!(client.issues_refresh_token(&openid));
        client.settings.scopes.push(OFFLINE_ACCESS.into());
        assert!(!client.issues_refresh_token(&openid));
        assert!(client.issues_refresh_token(&ScopeSet::parse("openid offline_access").unwrap()));
        client.settings.grant_types = vec![GrantType::Password];
        assert!(!client.issues_refresh_token(&ScopeSet::parse("offline_access").unwrap()));
    }

    #[test]
    fn settings_deserialize_with_defaults_for_missing_fields() {
        let s: ClientSettings = serde_json::from_str(r#"{"scopes":["a"]}"#).unwrap();
        assert_eq!(s.access_token_ttl, DEFAULT_ACCESS_TOKEN_TTL);
        assert_eq!(s.grant_types, vec![GrantType::Password]);
        assert!(s.secret_required);
        assert_eq!(s.redirect_uri, None);
    }

    /// Settings stored before per-client algorithms (`server`, `HS256`, no id_token field)
    /// read as they always did; the new values round-trip.
    #[test]
    fn stored_signing_settings_stay_valid() {
        let old: ClientSettings = serde_json::from_str(r#"{"access_token_alg": "HS256"}"#).unwrap();
        assert_eq!(old.access_token_alg, AccessTokenAlg::Hs256);
        assert_eq!(old.id_token_signed_response_alg, None);
        let old: ClientSettings =
            serde_json::from_str(r#"{"access_token_alg": "server"}"#).unwrap();
        assert_eq!(old.access_token_alg, AccessTokenAlg::ServerKey);
        assert!(old.signing_algs().is_empty());
        let new = ClientSettings {
            access_token_alg: AccessTokenAlg::Key(SigningAlg::ES256),
            id_token_signed_response_alg: Some(SigningAlg::RS256),
            ..ClientSettings::default()
        };
        let text = serde_json::to_string(&new).unwrap();
        assert!(text.contains(r#""access_token_alg":"ES256""#), "{text}");
        assert!(
            text.contains(r#""id_token_signed_response_alg":"RS256""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<ClientSettings>(&text).unwrap(), new);
        assert_eq!(new.signing_algs(), [SigningAlg::RS256, SigningAlg::ES256]);
        assert!(
            serde_json::from_str::<ClientSettings>(r#"{"access_token_alg": "PS256"}"#).is_err()
        );
        let opaque = ClientSettings {
            token_format: TokenFormat::Opaque,
            ..new
        };
        assert_eq!(opaque.validate().unwrap_err().code(), "invalid_request");
    }
}
