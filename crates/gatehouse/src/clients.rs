//! `gatehouse client …`: register, change, list, show and remove clients in the configured database
//! (created and migrated when new), through the core's admin service. Output is JSON without
//! any secret or hash.

use anyhow::{anyhow, bail, Context, Result};
use gatehouse_core::admin::NewClient;
use gatehouse_core::claims::mapper::parse_list;
use gatehouse_core::claims::ClaimMapper;
use gatehouse_core::client::{
    AccessTokenAlg, BreachedPasswordPolicy, Client, ClientId, ClientPasswordPolicy, ClientSettings,
    GrantType, MfaPolicy, TokenEndpointAuthMethod, TokenFormat,
};
use gatehouse_core::random;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::store::SessionLimitPolicy;
use gatehouse_core::token::keys::SigningAlg;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::admin::{or_missing, print_json, service, CLI};
use crate::cli::{
    ClientAddArgs, ClientCommand, ClientPasswordArgs, ClientUpdateArgs, SessionLimitArgs,
};
use crate::config::Config;
use crate::secret_key::sealer;

/// Runs a `client` subcommand.
pub(crate) async fn run(config: &Config, cmd: ClientCommand) -> Result<()> {
    match cmd {
        ClientCommand::Add(args) => {
            let (new, generated) = parse(args)?;
            let id = new.id.clone();
            // Only HS256 and client_secret_jwt secrets are sealed, and only a client naming a
            // signing algorithm may need a new signing key; other clients leave the server key be.
            let sealed = new.settings.access_token_alg == AccessTokenAlg::Hs256
                || new.settings.token_endpoint_auth_method
                    == Some(TokenEndpointAuthMethod::ClientSecretJwt)
                || !new.settings.signing_algs().is_empty();
            let sealer = if sealed { Some(sealer(config)?) } else { None };
            let admin = service(config, sealer).await?;
            let client = admin.add_client(&CLI, new).await.with_context(|| {
                format!("adding client {id}: a client with this id may exist already")
            })?;
            let mut out = client_json(&client);
            if let Some(secret) = generated {
                out["client_secret"] = secret.into();
            }
            print_json(&out)
        }
        ClientCommand::Update(args) => update(config, args).await,
        ClientCommand::List => {
            let clients = service(config, None).await?.list_clients().await?;
            print_json(&Value::Array(clients.iter().map(client_json).collect()))
        }
        ClientCommand::Show { id } => {
            ClientId::parse(&id)?;
            let admin = service(config, None).await?;
            let client = admin
                .find_client(&id)
                .await
                .map_err(|e| or_missing(e, || format!("no client {id}")))?;
            print_json(&client_json(&client))
        }
        ClientCommand::Remove { id } => {
            let id = ClientId::parse(&id)?;
            let admin = service(config, None).await?;
            admin
                .remove_client(&CLI, id.as_str())
                .await
                .with_context(|| format!("removing client {id}"))?;
            eprintln!("removed client {id}");
            Ok(())
        }
    }
}

/// The client `client add` asks for, and the secret it generated, if any.
fn parse(args: ClientAddArgs) -> Result<(NewClient, Option<String>)> {
    let id = ClientId::parse(&args.id)?;
    let settings = settings(&args)?;
    settings.validate()?;
    if settings.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::PrivateKeyJwt)
        && settings.jwks.is_none()
    {
        bail!("private_key_jwt needs --jwks-file");
    }
    let generated = args.generate_secret.then(|| random::token(32));
    let secret = args.secret.or_else(|| generated.clone());
    match &secret {
        Some(s) if s.is_empty() => bail!("the client secret must not be empty"),
        None if settings.access_token_alg == AccessTokenAlg::Hs256 => {
            bail!("--access-token-alg HS256 needs a client secret (--secret or --generate-secret)")
        }
        _ => {}
    }
    let new = NewClient {
        id,
        secret: secret.map(SecretString::from),
        settings,
    };
    Ok((new, generated))
}

/// The settings named by the flags of `client add`, over the defaults.
fn settings(args: &ClientAddArgs) -> Result<ClientSettings> {
    let defaults = ClientSettings::default();
    let mut grants = grant_types(&args.grant_types)?;
    match args.refresh_token {
        Some(true) if !grants.contains(&GrantType::RefreshToken) => {
            grants.push(GrantType::RefreshToken)
        }
        Some(false) => grants.retain(|g| *g != GrantType::RefreshToken),
        _ => {}
    }
    Ok(ClientSettings {
        grant_types: grants,
        secret_required: args.secret_required,
        scopes: scope_list(&args.scopes)?,
        default_scopes: scope_list(&args.default_scopes)?,
        access_token_ttl: args.access_token_ttl.unwrap_or(defaults.access_token_ttl),
        refresh_token_ttl: args.refresh_token_ttl.unwrap_or(defaults.refresh_token_ttl),
        refresh_token_idle_ttl: args
            .refresh_token_idle_ttl
            .unwrap_or(defaults.refresh_token_idle_ttl),
        token_format: match args.token_format.as_deref() {
            None | Some("jwt") => TokenFormat::Jwt,
            Some("opaque") => TokenFormat::Opaque,
            Some(other) => bail!("unknown token format {other:?}: use jwt or opaque"),
        },
        access_token_alg: access_token_alg(args.access_token_alg.as_deref())?
            .unwrap_or_default(),
        id_token_signed_response_alg: id_token_alg(args.id_token_signed_response_alg.as_deref())?
            .flatten(),
        jwks: args.jwks_file.as_deref().map(jwks).transpose()?,
        redirect_uri: args.redirect_uri.clone(),
        token_endpoint_auth_method: match &args.token_endpoint_auth_method {
            Some(m) => Some(TokenEndpointAuthMethod::parse(m).with_context(|| {
                format!("unknown token_endpoint_auth_method {m:?}: use client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none")
            })?),
            None => None,
        },
        trust_forwarded_for: args.trust_forwarded_for,
        mfa: match args.mfa.as_deref() {
            None => MfaPolicy::Off,
            Some(m) => MfaPolicy::parse(m)
                .with_context(|| format!("unknown --mfa {m:?}: use off, optional or required"))?,
        },
        max_sessions_per_user: max_sessions(&args.sessions)?,
        session_limit_policy: limit_policy(&args.sessions)?,
        breached_password: breached_password(&args.passwords)?.flatten(),
        password_policy: password_policy(&args.passwords)?.unwrap_or_default(),
        claims: parse_list(&claim_mappers(&args.claim)?).map_err(|e| anyhow!("--claim: {e}"))?,
        ..defaults
    })
}

/// `client update`: the stored Client resource with the fields the flags name replaced, put
/// back as `PUT /Client/ID` would, so the command and the API change a client alike. The
/// server key is opened only when the client's secret is (or is to be) sealed.
async fn update(config: &Config, args: ClientUpdateArgs) -> Result<()> {
    let id = ClientId::parse(&args.id)?;
    let (changes, generated) = update_fields(&args)?;
    let missing = || format!("no client {id}");
    let mut body = service(config, None)
        .await?
        .client(id.as_str())
        .await
        .map_err(|e| or_missing(e, missing))?;
    if let Some(object) = body.as_object_mut() {
        object.remove("has_secret");
    }
    for (path, value) in changes {
        gatehouse_core::admin::set_path(&mut body, path, value);
    }
    // HS256 and client_secret_jwt secrets are sealed, and a client naming a signing algorithm
    // may need a new signing key.
    let sealed = body["access_token_alg"] != "server"
        || body["token_endpoint_auth_method"] == "client_secret_jwt"
        || !body["id_token_signed_response_alg"].is_null();
    let sealer = if sealed { Some(sealer(config)?) } else { None };
    let admin = service(config, sealer).await?;
    admin
        .put_client(&CLI, id.as_str(), &body)
        .await
        .with_context(|| format!("updating client {id}"))?;
    let client = admin.find_client(id.as_str()).await?;
    let mut out = client_json(&client);
    if let Some(secret) = generated {
        out["client_secret"] = secret.into();
    }
    print_json(&out)
}

/// Values of Client fields, by dotted name.
type FieldValues = Vec<(&'static str, Value)>;

/// The Client fields (dotted) `client update`'s flags set, and the secret it generated.
fn update_fields(args: &ClientUpdateArgs) -> Result<(FieldValues, Option<String>)> {
    let text = |v: &str| if v.is_empty() { Value::Null } else { v.into() };
    let mut out: FieldValues = Vec::new();
    let generated = args.generate_secret.then(|| random::token(32));
    if let Some(secret) = args.secret.clone().or_else(|| generated.clone()) {
        out.push(("secret", secret.into()));
    }
    if let Some(grants) = &args.grant_types {
        out.push(("grant_types", json!(grants)));
        // The resource keeps the refresh_token grant apart; the list names it or not.
        if args.refresh_token.is_none() {
            let refresh = grants.iter().any(|g| g.trim() == "refresh_token");
            out.push(("auth.password.refresh_token", refresh.into()));
        }
    }
    let flags: [(&'static str, Option<Value>); 19] = [
        (
            "auth.password.refresh_token",
            args.refresh_token.map(Value::from),
        ),
        ("scopes", args.scopes.as_deref().map(|s| s.into())),
        (
            "default_scopes",
            args.default_scopes.as_deref().map(|s| s.into()),
        ),
        (
            "auth.password.access_token_expiration",
            args.access_token_ttl.map(Value::from),
        ),
        ("refresh_token_ttl", args.refresh_token_ttl.map(Value::from)),
        (
            "refresh_token_idle_ttl",
            args.refresh_token_idle_ttl.map(Value::from),
        ),
        (
            "auth.password.token_format",
            args.token_format.as_deref().map(text),
        ),
        (
            "access_token_alg",
            args.access_token_alg.as_deref().map(text),
        ),
        (
            "id_token_signed_response_alg",
            args.id_token_signed_response_alg.as_deref().map(|alg| {
                if alg == "default" {
                    Value::Null
                } else {
                    text(alg)
                }
            }),
        ),
        (
            "token_endpoint_auth_method",
            args.token_endpoint_auth_method.as_deref().map(text),
        ),
        (
            "auth.password.secret_required",
            args.secret_required.map(Value::from),
        ),
        (
            "auth.password.trust_forwarded_for",
            args.trust_forwarded_for.map(Value::from),
        ),
        (
            "auth.password.redirect_uri",
            args.redirect_uri.as_deref().map(text),
        ),
        ("mfa", args.mfa.as_deref().map(text)),
        (
            "max_sessions_per_user",
            args.sessions
                .max_sessions_per_user
                .is_some()
                .then(|| max_sessions(&args.sessions).map(|n| json!(n)))
                .transpose()?,
        ),
        (
            "session_limit_policy",
            args.sessions
                .session_limit_policy
                .is_some()
                .then(|| {
                    limit_policy(&args.sessions).map(|p| json!(p.map(SessionLimitPolicy::as_str)))
                })
                .transpose()?,
        ),
        (
            "breached_password",
            breached_password(&args.passwords)?
                .map(|p| json!(p.map(BreachedPasswordPolicy::as_str))),
        ),
        (
            "password_policy",
            password_policy(&args.passwords)?.map(|p| {
                if p.is_empty() {
                    Value::Null
                } else {
                    json!(p)
                }
            }),
        ),
        (
            "jwks",
            match &args.jwks_file {
                Some(path) if path.as_os_str().is_empty() => Some(Value::Null),
                Some(path) => Some(jwks(path)?),
                None => None,
            },
        ),
    ];
    out.extend(
        flags
            .into_iter()
            .filter_map(|(path, v)| v.map(|v| (path, v))),
    );
    if args.no_claims {
        out.push(("claims", Value::Null));
    } else if !args.claim.is_empty() {
        out.push(("claims", claim_mappers(&args.claim)?));
    }
    Ok((out, generated))
}

/// `--claim`, repeated: the mappers in the admin API's shape (the core checks the list as it
/// checks a PUT /Client body).
fn claim_mappers(raw: &[String]) -> Result<Value> {
    raw.iter()
        .map(|spec| ClaimMapper::from_flag(spec).map_err(|e| anyhow!("--claim: {e}")))
        .collect::<Result<Vec<_>>>()
        .map(Value::Array)
}

/// `--access-token-alg`, if given.
fn access_token_alg(raw: Option<&str>) -> Result<Option<AccessTokenAlg>> {
    raw.map(|a| {
        AccessTokenAlg::parse(a).with_context(|| {
            format!("--access-token-alg {a:?}: use server, EdDSA, ES256, RS256 or HS256")
        })
    })
    .transpose()
}

/// `--id-token-signed-response-alg`, if given: an algorithm, or `None` for `default`.
fn id_token_alg(raw: Option<&str>) -> Result<Option<Option<SigningAlg>>> {
    match raw {
        None => Ok(None),
        Some("default") => Ok(Some(None)),
        Some(a) => SigningAlg::parse(a)
            .map(|a| Some(Some(a)))
            .with_context(|| {
                format!("--id-token-signed-response-alg {a:?}: use EdDSA, ES256, RS256 or default")
            }),
    }
}

/// `--breached-password`, if given: a policy, or `None` for `default`.
fn breached_password(args: &ClientPasswordArgs) -> Result<Option<Option<BreachedPasswordPolicy>>> {
    match args.breached_password.as_deref() {
        None => Ok(None),
        Some("default") => Ok(Some(None)),
        Some(p) => BreachedPasswordPolicy::parse(p)
            .map(|p| Some(Some(p)))
            .with_context(|| format!("--breached-password {p:?}: use off, flag, block or default")),
    }
}

/// `--password-policy`, if given: `KEY=VALUE` pairs separated by commas ('' for none).
fn password_policy(args: &ClientPasswordArgs) -> Result<Option<ClientPasswordPolicy>> {
    let Some(raw) = args.password_policy.as_deref() else {
        return Ok(None);
    };
    let mut policy = ClientPasswordPolicy::default();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        policy.set(key.trim(), value.trim()).with_context(|| {
            format!(
                "--password-policy {pair:?}: use min_length=N (1 to 1024) or require_classes=N (0 to 4)"
            )
        })?;
    }
    Ok(Some(policy))
}

/// `--max-sessions-per-user`: a count, or `default` (and absent) for the server's.
fn max_sessions(args: &SessionLimitArgs) -> Result<Option<u32>> {
    match args.max_sessions_per_user.as_deref() {
        None | Some("default") => Ok(None),
        Some(n) => n.parse().map(Some).with_context(|| {
            format!("--max-sessions-per-user {n:?}: use a whole number (0: no limit) or default")
        }),
    }
}

/// `--session-limit-policy`: a policy, or `default` (and absent) for the server's.
fn limit_policy(args: &SessionLimitArgs) -> Result<Option<SessionLimitPolicy>> {
    match args.session_limit_policy.as_deref() {
        None | Some("default") => Ok(None),
        Some(p) => SessionLimitPolicy::parse(p).map(Some).with_context(|| {
            format!("--session-limit-policy {p:?}: use evict_oldest, deny or default")
        }),
    }
}

fn grant_types(raw: &[String]) -> Result<Vec<GrantType>> {
    if raw.is_empty() {
        return Ok(vec![GrantType::Password]);
    }
    raw.iter()
        .map(|g| {
            GrantType::parse(g.trim()).with_context(|| {
                format!("unknown grant type {g:?}: use password, refresh_token, client_credentials")
            })
        })
        .collect()
}

/// The JWK Set in the file `path` (`--jwks-file`).
fn jwks(path: &std::path::Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the JWK Set {}", path.display()))?;
    serde_json::from_str::<Value>(&text)
        .with_context(|| format!("parsing the JWK Set {}", path.display()))
}

fn scope_list(raw: &str) -> Result<Vec<String>> {
    Ok(ScopeSet::parse(raw)?.iter().map(str::to_owned).collect())
}

fn client_json(client: &Client) -> Value {
    let mut settings = client.settings.clone();
    settings.sealed_secret = None;
    json!({
        "client_id": client.id.as_str(),
        "public": client.is_public(),
        "settings": settings,
    })
}
