//! `gatehouse client …`: register, change, list, show and remove clients in the configured database
//! (created and migrated when new), through the core's admin service. Output is JSON without
//! any secret or hash.

use anyhow::{bail, Context, Result};
use gatehouse_core::admin::NewClient;
use gatehouse_core::client::{
    AccessTokenAlg, Client, ClientId, ClientSettings, GrantType, MfaPolicy,
    TokenEndpointAuthMethod, TokenFormat,
};
use gatehouse_core::random;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::store::SessionLimitPolicy;
use gatehouse_core::token::keys::SigningAlg;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::admin::{or_missing, print_json, service, CLI};
use crate::cli::{ClientAddArgs, ClientCommand, ClientUpdateArgs, SessionLimitArgs};
use crate::config::Config;
use crate::secret_key::sealer;

/// Runs a `client` subcommand.
pub(crate) async fn run(config: &Config, cmd: ClientCommand) -> Result<()> {
    match cmd {
        ClientCommand::Add(args) => {
            let (new, generated) = parse(args)?;
            let id = new.id.clone();
            // Only an HS256 client's secret is sealed, and only a client naming a signing
            // algorithm may need a new signing key; other commands leave the server key be.
            let hs256 = new.settings.access_token_alg == AccessTokenAlg::Hs256;
            let needs_key = hs256 || !new.settings.signing_algs().is_empty();
            let sealer = if needs_key {
                Some(sealer(config)?)
            } else {
                None
            };
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
        ClientCommand::Update(args) => {
            let id = ClientId::parse(&args.id)?;
            let names_alg =
                args.access_token_alg.is_some() || args.id_token_signed_response_alg.is_some();
            let change = update(&args)?;
            let sealer = if names_alg {
                Some(sealer(config)?)
            } else {
                None
            };
            let admin = service(config, sealer).await?;
            let client = admin
                .update_client(&CLI, id.as_str(), change)
                .await
                .map_err(|e| or_missing(e, || format!("no client {id}")))?;
            print_json(&client_json(&client))
        }
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
    match settings.token_endpoint_auth_method {
        Some(TokenEndpointAuthMethod::ClientSecretJwt) => {
            bail!("client_secret_jwt clients are registered through the admin API (PUT /Client/ID), which seals the secret")
        }
        Some(TokenEndpointAuthMethod::PrivateKeyJwt) if settings.jwks.is_none() => {
            bail!("private_key_jwt needs --jwks-file")
        }
        _ => {}
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
    Ok(ClientSettings {
        grant_types: grant_types(&args.grant_types)?,
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
        jwks: jwks(args)?,
        redirect_uri: args.redirect_uri.clone(),
        token_endpoint_auth_method: match &args.token_endpoint_auth_method {
            Some(m) => Some(TokenEndpointAuthMethod::parse(m).with_context(|| {
                format!("unknown token_endpoint_auth_method {m:?}: use client_secret_basic, client_secret_post, private_key_jwt or none")
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
        ..defaults
    })
}

/// The changes `client update` asks for, parsed before the database is opened.
fn update(args: &ClientUpdateArgs) -> Result<impl FnOnce(&mut ClientSettings)> {
    let scopes = args.scopes.as_deref().map(scope_list).transpose()?;
    let default_scopes = args.default_scopes.as_deref().map(scope_list).transpose()?;
    let mfa = match args.mfa.as_deref() {
        None => None,
        Some(m) => Some(
            MfaPolicy::parse(m)
                .with_context(|| format!("unknown --mfa {m:?}: use off, optional or required"))?,
        ),
    };
    let given = |flag: &Option<String>| flag.is_some();
    let max = given(&args.sessions.max_sessions_per_user)
        .then(|| max_sessions(&args.sessions))
        .transpose()?;
    let policy = given(&args.sessions.session_limit_policy)
        .then(|| limit_policy(&args.sessions))
        .transpose()?;
    let access_alg = access_token_alg(args.access_token_alg.as_deref())?;
    let id_alg = id_token_alg(args.id_token_signed_response_alg.as_deref())?;
    let (ttl, refresh_ttl, idle_ttl) = (
        args.access_token_ttl,
        args.refresh_token_ttl,
        args.refresh_token_idle_ttl,
    );
    Ok(move |s: &mut ClientSettings| {
        if let Some(scopes) = scopes {
            s.scopes = scopes;
        }
        if let Some(scopes) = default_scopes {
            s.default_scopes = scopes;
        }
        s.mfa = mfa.unwrap_or(s.mfa);
        s.access_token_ttl = ttl.unwrap_or(s.access_token_ttl);
        s.refresh_token_ttl = refresh_ttl.unwrap_or(s.refresh_token_ttl);
        s.refresh_token_idle_ttl = idle_ttl.unwrap_or(s.refresh_token_idle_ttl);
        if let Some(max) = max {
            s.max_sessions_per_user = max;
        }
        if let Some(policy) = policy {
            s.session_limit_policy = policy;
        }
        s.access_token_alg = access_alg.unwrap_or(s.access_token_alg);
        if let Some(alg) = id_alg {
            s.id_token_signed_response_alg = alg;
        }
    })
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
            GrantType::parse(g.trim())
                .with_context(|| format!("unknown grant type {g:?}: use password, refresh_token"))
        })
        .collect()
}

/// The JWK Set of `--jwks-file`, if given.
fn jwks(args: &ClientAddArgs) -> Result<Option<Value>> {
    let Some(path) = &args.jwks_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the JWK Set {}", path.display()))?;
    let jwks = serde_json::from_str::<Value>(&text)
        .with_context(|| format!("parsing the JWK Set {}", path.display()))?;
    Ok(Some(jwks))
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
