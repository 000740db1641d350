//! The Client resource of the admin API: Aidbox's shape (seed 004: `secret`, `grant_types`,
//! `auth.password.{secret_required, token_format, refresh_token, access_token_expiration,
//! redirect_uri}`) next to gatehouse's own settings (`scopes`, `default_scopes`, `jwks`,
//! `token_endpoint_auth_method`, `refresh_token_ttl`, `refresh_token_idle_ttl`, `mfa`,
//! `max_sessions_per_user`, `session_limit_policy`, `id_token_signed_response_alg`,
//! `access_token_alg`). The two session-limit fields are `null` (or absent) to take the server's
//! `--max-sessions-per-user` and `--session-limit-policy`; a maximum of 0 is no limit.
//! `id_token_signed_response_alg` (OpenID Connect Dynamic Client Registration §2: `EdDSA`,
//! `ES256` or `RS256`) is `null` (or absent) for the server's default key, and so is
//! `access_token_alg` (`server`, or `EdDSA`, `ES256`, `RS256`, `HS256`); a PUT that leaves
//! `access_token_alg` out of an HS256 client's body keeps it HS256 while its secret is kept.
//! `breached_password` (`off`, `flag`, `block`) is `null` for the server's
//! `--breached-password-default`; `password_policy` (`{"min_length": N, "require_classes": N}`)
//! is `null` for the server's rules. `claims` (`null` or absent: none) lists the client's claim
//! mappers (see [`crate::claims::mapper`]).
//!
//! A PUT replaces the settings, except that the secret is write-only: left out, the stored one
//! stays; `null` removes it. As in Aidbox, a client without `auth.password.token_format` gets
//! opaque access tokens. Rendered resources never hold the secret or its hash.

use serde_json::{json, Value};

use super::fields::{Change, Fields, Schema};
use crate::client::{
    AccessTokenAlg, BreachedPasswordPolicy, Client, ClientId, ClientPasswordPolicy, ClientSettings,
    GrantType, MfaPolicy, TokenEndpointAuthMethod, TokenFormat,
};
use crate::error::Error;
use crate::scope::ScopeSet;
use crate::store::SessionLimitPolicy;
use crate::token::keys::SigningAlg;

/// Every field of the Client resource an administrator sets, dotted: the one list the parser
/// reads (it reads no other key but `resourceType` and `id`, asserted in debug builds), render
/// shows (but the write-only `secret`), and `client add`/`client update` have a flag for
/// (`--grant-types` for `grant_types`, `--secret-required` for `auth.password.secret_required`;
/// checked by the CLI's tests).
pub const CLIENT_FIELDS: &[&str] = &[
    "secret",
    "grant_types",
    "scopes",
    "default_scopes",
    "jwks",
    "token_endpoint_auth_method",
    "access_token_alg",
    "id_token_signed_response_alg",
    "mfa",
    "max_sessions_per_user",
    "session_limit_policy",
    "breached_password",
    "password_policy",
    "refresh_token_ttl",
    "refresh_token_idle_ttl",
    "claims",
    "auth.password.trust_forwarded_for",
    "auth.password.secret_required",
    "auth.password.token_format",
    "auth.password.refresh_token",
    "auth.password.access_token_expiration",
    "auth.password.redirect_uri",
];

const SCHEMA: Schema = Schema {
    fields: CLIENT_FIELDS,
    others: &["resourceType", "id"],
};

/// What a Client body asks for; the secret still in plaintext.
pub(crate) struct ClientBody {
    pub(crate) id: Option<String>,
    pub(crate) secret: Change<String>,
    pub(crate) settings: ClientSettings,
    /// Whether the body named `access_token_alg`.
    pub(crate) names_access_token_alg: bool,
}

/// Parses a Client body into settings (validated) and the secret change.
pub(crate) fn parse(body: &Value) -> Result<ClientBody, Error> {
    let mut f = Fields::new("", body, SCHEMA)?;
    if let Some(kind) = f.string("resourceType")? {
        if kind != "Client" {
            return Err(Error::invalid_field("resourceType", "must be Client"));
        }
    }
    let id = f.string("id")?;
    let secret = match f.change("secret") {
        Change::Set(Value::String(s)) if !s.is_empty() => Change::Set(s),
        Change::Set(_) => return Err(Error::invalid_field("secret", "must be a non-empty string")),
        Change::Keep => Change::Keep,
        Change::Remove => Change::Remove,
    };
    let defaults = ClientSettings::default();
    let mut settings = ClientSettings {
        // Aidbox: "token_format: jwt (otherwise opaque)".
        token_format: TokenFormat::Opaque,
        ..defaults
    };
    if let Some(list) = f.strings("grant_types")? {
        settings.grant_types = grant_types(&list)?;
    }
    if let Some(scopes) = f.strings("scopes")? {
        settings.scopes = scope_list("scopes", &scopes)?;
    }
    if let Some(scopes) = f.strings("default_scopes")? {
        settings.default_scopes = scope_list("default_scopes", &scopes)?;
    }
    if let Change::Set(jwks) = f.change("jwks") {
        crate::client_assertion::parse_jwks(&jwks)?;
        settings.jwks = Some(jwks);
    }
    if let Some(m) = f.string("token_endpoint_auth_method")? {
        settings.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::parse(&m).ok_or_else(|| {
            Error::invalid_field(
                "token_endpoint_auth_method",
                "must be client_secret_basic, client_secret_post, private_key_jwt, client_secret_jwt or none",
            )
        })?);
    }
    if let Some(m) = f.string("mfa")? {
        settings.mfa = MfaPolicy::parse(&m)
            .ok_or_else(|| Error::invalid_field("mfa", "must be off, optional or required"))?;
    }
    settings.max_sessions_per_user = f.count("max_sessions_per_user")?;
    if let Some(p) = f.string("session_limit_policy")? {
        settings.session_limit_policy = Some(SessionLimitPolicy::parse(&p).ok_or_else(|| {
            Error::invalid_field("session_limit_policy", "must be evict_oldest or deny")
        })?);
    }
    if let Some(p) = f.string("breached_password")? {
        settings.breached_password = Some(BreachedPasswordPolicy::parse(&p).ok_or_else(|| {
            Error::invalid_field("breached_password", "must be off, flag or block")
        })?);
    }
    settings.password_policy = match f.change("password_policy") {
        Change::Keep | Change::Remove => ClientPasswordPolicy::default(),
        Change::Set(value) => password_policy(&value)?,
    };
    if let Some(alg) = f.string("id_token_signed_response_alg")? {
        settings.id_token_signed_response_alg = Some(SigningAlg::parse(&alg).map_err(|_| {
            Error::invalid_field(
                "id_token_signed_response_alg",
                "must be EdDSA, ES256 or RS256",
            )
        })?);
    }
    let access_token_alg = f.string("access_token_alg")?;
    let names_access_token_alg = access_token_alg.is_some();
    if let Some(alg) = access_token_alg {
        settings.access_token_alg = AccessTokenAlg::parse(&alg)
            .ok_or_else(|| Error::invalid_field("access_token_alg", AccessTokenAlg::EXPECTED))?;
    }
    if let Some(ttl) = f.seconds("refresh_token_ttl")? {
        settings.refresh_token_ttl = ttl;
    }
    if let Some(ttl) = f.seconds("refresh_token_idle_ttl")? {
        settings.refresh_token_idle_ttl = ttl;
    }
    if let Change::Set(list) = f.change("claims") {
        settings.claims = crate::claims::mapper::parse_list(&list)
            .map_err(|e| Error::invalid_field("claims", e))?;
    }
    if let Some(mut auth) = f.object("auth")? {
        if let Some(password) = auth.object("password")? {
            password_settings(&mut settings, password)?;
        }
        auth.finish(&[])?;
    }
    f.finish(&["meta"])?;
    settings.validate().map_err(|e| match e {
        Error::InvalidRequest(d) => Error::InvalidBody(d),
        other => other,
    })?;
    Ok(ClientBody {
        id,
        secret,
        settings,
        names_access_token_alg,
    })
}

/// `auth.password`: Aidbox's settings of the password grant.
fn password_settings(settings: &mut ClientSettings, mut p: Fields) -> Result<(), Error> {
    if let Some(trust) = p.boolean("trust_forwarded_for")? {
        settings.trust_forwarded_for = trust;
    }
    if let Some(required) = p.boolean("secret_required")? {
        settings.secret_required = required;
    }
    if let Some(format) = p.string("token_format")? {
        settings.token_format = match format.as_str() {
            "jwt" => TokenFormat::Jwt,
            "opaque" => TokenFormat::Opaque,
            _ => {
                return Err(Error::invalid_field(
                    &p.name("token_format"),
                    "must be jwt or opaque",
                ))
            }
        };
    }
    match p.boolean("refresh_token")? {
        Some(true) if !settings.grant_types.contains(&GrantType::RefreshToken) => {
            settings.grant_types.push(GrantType::RefreshToken);
        }
        Some(false) => settings
            .grant_types
            .retain(|g| *g != GrantType::RefreshToken),
        _ => {}
    }
    if let Some(ttl) = p.seconds("access_token_expiration")? {
        settings.access_token_ttl = ttl;
    }
    if let Some(uri) = p.string("redirect_uri")? {
        crate::client::validate_redirect_uri(&uri).map_err(|_| {
            Error::invalid_field(
                &p.name("redirect_uri"),
                "must be an absolute https URL (http only for localhost) without a fragment",
            )
        })?;
        settings.redirect_uri = Some(uri);
    }
    p.finish(&[])
}

fn grant_types(list: &[String]) -> Result<Vec<GrantType>, Error> {
    let mut out = Vec::new();
    for raw in list {
        let g = GrantType::parse(raw).ok_or_else(|| {
            Error::invalid_field(
                "grant_types",
                format!("unsupported grant type {}", crate::error::echo(raw)),
            )
        })?;
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

fn scope_list(field: &str, tokens: &[String]) -> Result<Vec<String>, Error> {
    let set = ScopeSet::parse(&tokens.join(" "))
        .map_err(|e| Error::invalid_field(field, e.description().unwrap_or("invalid scope")))?;
    Ok(set.iter().map(str::to_owned).collect())
}

/// The resource as the API shows it: no secret, no hash, no sealed secret.
pub(crate) fn render(client: &Client) -> Value {
    let s = &client.settings;
    let grants: Vec<&str> = s
        .grant_types
        .iter()
        .filter(|g| **g != GrantType::RefreshToken)
        .map(|g| g.as_str())
        .collect();
    let mut password = json!({
        "secret_required": s.secret_required,
        "trust_forwarded_for": s.trust_forwarded_for,
        "token_format": match s.token_format { TokenFormat::Jwt => "jwt", TokenFormat::Opaque => "opaque" },
        "refresh_token": s.grant_types.contains(&GrantType::RefreshToken),
        "access_token_expiration": s.access_token_ttl,
    });
    if let Some(uri) = &s.redirect_uri {
        password["redirect_uri"] = uri.as_str().into();
    }
    let mut out = json!({
        "resourceType": "Client",
        "id": client.id.as_str(),
        "grant_types": grants,
        "auth": { "password": password },
        "has_secret": !client.is_public(),
        "scopes": s.scopes,
        "default_scopes": s.default_scopes,
        "refresh_token_ttl": s.refresh_token_ttl,
        "refresh_token_idle_ttl": s.refresh_token_idle_ttl,
        "mfa": s.mfa.as_str(),
        "access_token_alg": s.access_token_alg.as_str(),
        "max_sessions_per_user": s.max_sessions_per_user,
        "session_limit_policy": s.session_limit_policy.map(SessionLimitPolicy::as_str),
        "id_token_signed_response_alg": s.id_token_signed_response_alg.map(SigningAlg::as_str),
        "breached_password": s.breached_password.map(BreachedPasswordPolicy::as_str),
        "password_policy": (!s.password_policy.is_empty()).then_some(s.password_policy),
        "claims": s.claims,
    });
    if let Some(jwks) = &s.jwks {
        out["jwks"] = jwks.clone();
    }
    if let Some(m) = s.token_endpoint_auth_method {
        out["token_endpoint_auth_method"] = m.as_str().into();
    }
    out
}

/// A `password_policy` object: `min_length` (1 to 1024) and `require_classes` (0 to 4),
/// each optional.
fn password_policy(value: &Value) -> Result<ClientPasswordPolicy, Error> {
    let bad = || {
        Error::invalid_field(
            "password_policy",
            "must be an object of min_length (1 to 1024) and require_classes (0 to 4)",
        )
    };
    let map = value.as_object().ok_or_else(bad)?;
    let mut policy = ClientPasswordPolicy::default();
    for (key, v) in map {
        if v.is_null() {
            continue;
        }
        let n = v.as_u64().ok_or_else(bad)?;
        policy.set(key, &n.to_string()).ok_or_else(bad)?;
    }
    Ok(policy)
}

/// The id of a body: the path's, which the body may repeat but not contradict.
pub(crate) fn resolve_id(path: Option<&str>, body: Option<&str>) -> Result<ClientId, Error> {
    let raw = match (path, body) {
        (Some(p), Some(b)) if p != b => {
            return Err(Error::invalid_field(
                "id",
                "differs from the id in the path",
            ))
        }
        (Some(p), _) => p,
        (None, Some(b)) => b,
        (None, None) => return Err(Error::invalid_field("id", "is required")),
    };
    ClientId::parse(raw)
        .map_err(|e| Error::invalid_field("id", e.description().unwrap_or("invalid")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aidbox_jwt_client_maps_onto_settings() {
        let body = json!({"id": "ro-jwt-client", "grant_types": ["password"], "resourceType": "Client",
            "auth": {"password": {"token_format": "jwt", "refresh_token": true, "access_token_expiration": 3600}}});
        let parsed = parse(&body).unwrap();
        assert_eq!(parsed.settings.token_format, TokenFormat::Jwt);
        assert_eq!(
            parsed.settings.grant_types,
            vec![GrantType::Password, GrantType::RefreshToken]
        );
        assert_eq!(parsed.settings.access_token_ttl, 3600);
        assert_eq!(
            parse(&json!({"id": "x"})).unwrap().settings.token_format,
            TokenFormat::Opaque
        );
    }

    #[test]
    fn session_limits_are_the_clients_or_the_servers() {
        let body = json!({"max_sessions_per_user": 2, "session_limit_policy": "deny"});
        let settings = parse(&body).unwrap().settings;
        assert_eq!(settings.max_sessions_per_user, Some(2));
        assert_eq!(
            settings.session_limit_policy,
            Some(SessionLimitPolicy::Deny)
        );
        let client = Client {
            id: ClientId::parse("c").unwrap(),
            secret_hash: None,
            secret_sealed: None,
            settings,
        };
        let shown = render(&client);
        assert_eq!(shown["max_sessions_per_user"], 2);
        assert_eq!(shown["session_limit_policy"], "deny");
        let default = parse(&json!({"max_sessions_per_user": null}))
            .unwrap()
            .settings;
        assert_eq!(default.max_sessions_per_user, None);
        assert_eq!(default.session_limit_policy, None);
        let unlimited = parse(&json!({"max_sessions_per_user": 0}))
            .unwrap()
            .settings;
        assert_eq!(unlimited.max_sessions_per_user, Some(0));
    }

    /// A valid value, other than the default, of every declared field.
    fn sample(field: &str) -> Value {
        match field {
            "secret" => json!("s3cret"),
            "grant_types" => json!(["password", "refresh_token"]),
            "scopes" => json!(["read", "write"]),
            "default_scopes" => json!(["read"]),
            "jwks" => json!({"keys": [{"kty": "OKP", "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}),
            "token_endpoint_auth_method" => json!("private_key_jwt"),
            "access_token_alg" => json!("HS256"),
            "id_token_signed_response_alg" => json!("RS256"),
            "mfa" => json!("required"),
            "max_sessions_per_user" => json!(3),
            "session_limit_policy" => json!("deny"),
            "breached_password" => json!("block"),
            "password_policy" => json!({"min_length": 12, "require_classes": 2}),
            "refresh_token_ttl" => json!(1000),
            "refresh_token_idle_ttl" => json!(500),
            "claims" => json!([{"claim": "tenant", "value": "acme"}]),
            "auth.password.trust_forwarded_for" => json!(true),
            "auth.password.secret_required" => json!(false),
            "auth.password.token_format" => json!("jwt"),
            "auth.password.refresh_token" => json!(true),
            "auth.password.access_token_expiration" => json!(120),
            "auth.password.redirect_uri" => json!("https://app.example.com/cb"),
            other => panic!("no sample value for the Client field {other}: add one"),
        }
    }

    /// The dotted paths of a rendered resource's leaves.
    fn leaves(value: &Value, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in value.as_object().unwrap() {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(_) if k != "jwks" && k != "password_policy" => leaves(v, &path, out),
                _ => out.push(path),
            }
        }
    }

    /// The declared field list is the resource: each field parses on its own and changes what
    /// is stored, and render shows exactly the declared fields (but the write-only secret)
    /// next to resourceType, id and has_secret.
    #[test]
    fn the_declared_fields_are_what_parse_reads_and_render_shows() {
        let mut all = json!({});
        for field in CLIENT_FIELDS {
            // Default scopes must be among the client's scopes; HS256 signs JWTs only.
            let mut body = match *field {
                "default_scopes" => json!({ "scopes": sample("scopes") }),
                "access_token_alg" => json!({ "auth": { "password": { "token_format": "jwt" } } }),
                _ => json!({}),
            };
            let default = parse(&body).unwrap();
            super::super::set_path(&mut body, field, sample(field));
            super::super::set_path(&mut all, field, sample(field));
            let parsed = parse(&body).unwrap_or_else(|e| panic!("{field}: {e:?}"));
            let changed = parsed.settings != default.settings || parsed.secret != Change::Keep;
            assert!(changed, "{field} has no effect");
        }
        all["token_endpoint_auth_method"] = json!("client_secret_basic");
        let client = Client {
            id: ClientId::parse("c").unwrap(),
            secret_hash: Some("hash".into()),
            secret_sealed: None,
            settings: parse(&all).unwrap().settings,
        };
        let mut shown = Vec::new();
        leaves(&render(&client), "", &mut shown);
        shown.sort();
        let mut expected: Vec<String> = CLIENT_FIELDS
            .iter()
            .filter(|f| **f != "secret")
            .chain(&["resourceType", "id", "has_secret"])
            .map(|f| f.to_string())
            .collect();
        expected.sort();
        assert_eq!(shown, expected);
    }

    /// An Auth0-shaped client: RS256 id_tokens and access tokens, shown as set; absent means
    /// the server's default key.
    #[test]
    fn signing_algorithms_are_the_clients_or_the_servers() {
        let body = json!({"id_token_signed_response_alg": "RS256", "access_token_alg": "RS256",
            "auth": {"password": {"token_format": "jwt"}}});
        let parsed = parse(&body).unwrap();
        assert!(parsed.names_access_token_alg);
        let settings = parsed.settings;
        assert_eq!(
            settings.id_token_signed_response_alg,
            Some(SigningAlg::RS256)
        );
        assert_eq!(
            settings.access_token_alg,
            AccessTokenAlg::Key(SigningAlg::RS256)
        );
        assert_eq!(settings.signing_algs(), [SigningAlg::RS256]);
        let client = Client {
            id: ClientId::parse("c").unwrap(),
            secret_hash: None,
            secret_sealed: None,
            settings,
        };
        let shown = render(&client);
        assert_eq!(shown["id_token_signed_response_alg"], "RS256");
        assert_eq!(shown["access_token_alg"], "RS256");
        let default = parse(&json!({"id_token_signed_response_alg": null})).unwrap();
        assert!(!default.names_access_token_alg);
        assert_eq!(default.settings.id_token_signed_response_alg, None);
        assert_eq!(default.settings.access_token_alg, AccessTokenAlg::ServerKey);
        let shown = render(&Client {
            settings: default.settings,
            ..client
        });
        assert_eq!(shown["id_token_signed_response_alg"], Value::Null);
        assert_eq!(shown["access_token_alg"], "server");
    }

    #[test]
    fn errors_name_the_field() {
        for (body, field) in [
            (json!({"grant_types": ["telepathy"]}), "grant_types:"),
            (
                json!({"auth": {"password": {"access_token_expiration": -1}}}),
                "auth.password.access_token_expiration:",
            ),
            (
                json!({"auth": {"password": {"redirect_uri": "http://evil.com/"}}}),
                "auth.password.redirect_uri:",
            ),
            (
                json!({"auth": {"password": {"secret_required": "yes"}}}),
                "auth.password.secret_required:",
            ),
            (json!({"colour": "red"}), "colour:"),
            (json!({"secret": 7}), "secret:"),
            (
                json!({"jwks": {"keys": [{"kty": "oct", "k": "AA"}]}}),
                "jwks:",
            ),
            (json!({"resourceType": "User"}), "resourceType:"),
            (
                json!({"max_sessions_per_user": -1}),
                "max_sessions_per_user:",
            ),
            (
                json!({"max_sessions_per_user": 1.5}),
                "max_sessions_per_user:",
            ),
            (
                json!({"session_limit_policy": "lifo"}),
                "session_limit_policy:",
            ),
            (
                json!({"id_token_signed_response_alg": "HS256"}),
                "id_token_signed_response_alg:",
            ),
            (
                json!({"id_token_signed_response_alg": "none"}),
                "id_token_signed_response_alg:",
            ),
            (json!({"access_token_alg": "PS256"}), "access_token_alg:"),
            (
                json!({"claims": [{"claim": "sub", "value": "x"}]}),
                "claims:",
            ),
            (
                json!({"claims": [{"claim": "a", "from": "nowhere"}]}),
                "claims:",
            ),
        ] {
            let err = parse(&body).err().unwrap();
            assert_eq!(err.code(), "invalid_request");
            assert!(err.description().unwrap().starts_with(field), "{err:?}");
        }
    }
}
