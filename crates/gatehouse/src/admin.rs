//! `gatehouse client …` and `gatehouse user …`: manage clients and users in the configured
//! database, creating and migrating it when it is new. Output is JSON without any hash.

use std::io::Read;

use anyhow::{bail, Context, Result};
use gatehouse_core::client::{
    AccessTokenAlg, Client, ClientId, ClientSettings, GrantType, MfaPolicy,
    TokenEndpointAuthMethod, TokenFormat,
};
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::{User, Username, MAX_PASSWORD_LEN};
use gatehouse_core::{random, Error};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::cli::{ClientAddArgs, ClientCommand, UserAddArgs, UserCommand};
use crate::config::Config;
use crate::secret_key::sealer;
use crate::security_cli::record_cli_change;
use crate::server::{hasher, open_store};

/// Runs a `client` subcommand.
pub(crate) async fn client(config: &Config, cmd: ClientCommand) -> Result<()> {
    let store = open_store(config).await?;
    match cmd {
        ClientCommand::Add(args) => {
            let (client, generated) = new_client(config, args).await?;
            store
                .insert_client(&client, SystemClock.now())
                .await
                .map_err(Error::from)
                .with_context(|| {
                    format!(
                        "adding client {}: a client with this id may exist already",
                        client.id
                    )
                })?;
            record_cli_change(&store, "create_client", Some(client.id.as_str()), None).await;
            let mut out = client_json(&client);
            if let Some(secret) = generated {
                out["client_secret"] = secret.into();
            }
            print_json(&out)
        }
        ClientCommand::List => {
            let clients = store.list_clients().await?;
            print_json(&Value::Array(clients.iter().map(client_json).collect()))
        }
        ClientCommand::Show { id } => {
            let id = ClientId::parse(&id)?;
            match store.find_client(&id).await? {
                Some(client) => print_json(&client_json(&client)),
                None => bail!("no client {id}"),
            }
        }
        ClientCommand::Remove { id } => {
            let id = ClientId::parse(&id)?;
            store
                .delete_client(&id)
                .await
                .map_err(Error::from)
                .with_context(|| format!("removing client {id}"))?;
            record_cli_change(&store, "delete_client", Some(id.as_str()), None).await;
            eprintln!("removed client {id}");
            Ok(())
        }
    }
}

/// Runs a `user` subcommand.
pub(crate) async fn user(config: &Config, cmd: UserCommand) -> Result<()> {
    let store = open_store(config).await?;
    match cmd {
        UserCommand::Add(args) => {
            let user = new_user(config, args).await?;
            store
                .insert_user(&user)
                .await
                .map_err(Error::from)
                .with_context(|| {
                    format!(
                        "adding user {}: a user with this name may exist already",
                        user.username
                    )
                })?;
            let name = Some(user.username.as_str());
            record_cli_change(&store, "create_user", None, name).await;
            print_json(&user_json(&user))
        }
        UserCommand::List => {
            let users = store.list_users().await?;
            print_json(&Value::Array(users.iter().map(user_json).collect()))
        }
        UserCommand::Show { username } => {
            let name = Username::parse(&username)?;
            match store.find_user(&name).await? {
                Some(user) => print_json(&user_json(&user)),
                None => bail!("no user {name}"),
            }
        }
        UserCommand::Remove { username } => {
            let name = Username::parse(&username)?;
            store
                .delete_user(&name)
                .await
                .map_err(Error::from)
                .with_context(|| format!("removing user {name}"))?;
            record_cli_change(&store, "delete_user", None, Some(name.as_str())).await;
            eprintln!("removed user {name}");
            Ok(())
        }
        UserCommand::Import { file } => import_users(&store, &file).await,
        UserCommand::Mfa(cmd) => crate::security_cli::mfa(store, cmd).await,
        UserCommand::Unlock { username } => {
            crate::security_cli::unlock(config, store, &username).await
        }
        UserCommand::SetPassword { username, .. } => {
            let name = Username::parse(&username)?;
            let hash = hasher(config)?.hash(&read_password()?).await?;
            store
                .set_password_hash(&name, &hash, SystemClock.now())
                .await
                .map_err(Error::from)
                .with_context(|| format!("setting the password of {name}"))?;
            record_cli_change(&store, "set_password", None, Some(name.as_str())).await;
            eprintln!("password of {name} replaced");
            Ok(())
        }
    }
}

async fn new_client(config: &Config, args: ClientAddArgs) -> Result<(Client, Option<String>)> {
    let id = ClientId::parse(&args.id)?;
    let grant_types = if args.grant_types.is_empty() {
        vec![GrantType::Password]
    } else {
        args.grant_types
            .iter()
            .map(|g| {
                GrantType::parse(g.trim()).with_context(|| {
                    format!("unknown grant type {g:?}: use password, refresh_token")
                })
            })
            .collect::<Result<Vec<_>>>()?
    };
    let defaults = ClientSettings::default();
    let jwks = match &args.jwks_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the JWK Set {}", path.display()))?;
            Some(
                serde_json::from_str::<Value>(&text)
                    .with_context(|| format!("parsing the JWK Set {}", path.display()))?,
            )
        }
        None => None,
    };
    let token_endpoint_auth_method = match &args.token_endpoint_auth_method {
        Some(m) => Some(TokenEndpointAuthMethod::parse(m).with_context(|| {
            format!("unknown token_endpoint_auth_method {m:?}: use client_secret_basic, client_secret_post, private_key_jwt or none")
        })?),
        None => None,
    };
    let settings = ClientSettings {
        grant_types,
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
        access_token_alg: match args.access_token_alg.as_deref() {
            None => AccessTokenAlg::ServerKey,
            Some("HS256") => AccessTokenAlg::Hs256,
            Some(other) => bail!(
                "--access-token-alg {other:?}: only HS256 can be chosen per client; the server \
                 key's algorithm is set with --signing-alg"
            ),
        },
        jwks,
        redirect_uri: args.redirect_uri.clone(),
        token_endpoint_auth_method,
        trust_forwarded_for: args.trust_forwarded_for,
        mfa: match args.mfa.as_deref() {
            None => MfaPolicy::Off,
            Some(m) => MfaPolicy::parse(m)
                .with_context(|| format!("unknown --mfa {m:?}: use off, optional or required"))?,
        },
        ..defaults
    };
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
    let mut client = Client {
        id,
        secret_hash: None,
        secret_sealed: None,
        settings,
    };
    match secret {
        Some(s) if s.is_empty() => bail!("the client secret must not be empty"),
        // HS256 needs the secret itself: sealed under the server key, never stored in clear.
        Some(s) if client.settings.access_token_alg == AccessTokenAlg::Hs256 => {
            let sealed = sealer(config)?.seal(&client.secret_seal_context(), s.as_bytes())?;
            client.secret_sealed = Some(sealed);
        }
        Some(s) => client.secret_hash = Some(hasher(config)?.hash(&SecretString::from(s)).await?),
        None if client.settings.access_token_alg == AccessTokenAlg::Hs256 => {
            bail!("--access-token-alg HS256 needs a client secret (--secret or --generate-secret)")
        }
        None => {}
    }
    Ok((client, generated))
}

async fn new_user(config: &Config, args: UserAddArgs) -> Result<User> {
    let username = Username::parse(&args.username)?;
    let scopes = args.scopes.as_deref().map(ScopeSet::parse).transpose()?;
    let password = read_password()?;
    Ok(User {
        id: random::id(),
        username,
        password_hash: hasher(config)?.hash(&password).await?,
        email: args.email,
        phone: args.phone,
        scopes,
        created_at: SystemClock.now(),
    })
}

/// Reads a password from standard input; one trailing newline (LF or CRLF) is not part of it.
fn read_password() -> Result<SecretString> {
    let mut raw = String::new();
    std::io::stdin()
        .read_to_string(&mut raw)
        .context("reading the password from standard input")?;
    let password = raw
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&raw);
    if password.is_empty() {
        bail!("the password read from standard input is empty");
    }
    if password.len() > MAX_PASSWORD_LEN {
        bail!("the password is longer than {MAX_PASSWORD_LEN} bytes");
    }
    Ok(SecretString::from(password.to_owned()))
}

/// Imports a JSON-lines file: every good line is stored, every bad one reported with its
/// number; a re-run skips users that exist. Fails (after importing the rest) if any line failed.
async fn import_users(
    store: &std::sync::Arc<dyn gatehouse_core::store::Store>,
    file: &std::path::Path,
) -> Result<()> {
    use gatehouse_core::store::StoreError;
    let text = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let (mut imported, mut skipped, mut failed) = (0usize, 0usize, 0usize);
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() {
            continue;
        }
        let user = match gatehouse_core::user_import::parse_line(line) {
            Ok(u) => u,
            Err(why) => {
                eprintln!("line {n}: {why}");
                failed += 1;
                continue;
            }
        };
        let record = User {
            id: random::id(),
            username: user.username,
            password_hash: user.password_hash,
            email: user.email,
            phone: user.phone,
            scopes: user.scopes,
            created_at: SystemClock.now(),
        };
        match store.insert_user(&record).await {
            Ok(()) => {
                let name = Some(record.username.as_str());
                record_cli_change(store, "import_user", None, name).await;
                imported += 1;
            }
            Err(StoreError::Conflict) => {
                eprintln!("line {n}: user {} exists already, skipped", record.username);
                skipped += 1;
            }
            Err(err) => {
                return Err(Error::from(err)).with_context(|| format!("line {n}: storing the user"))
            }
        }
    }
    print_json(&json!({"imported": imported, "skipped_existing": skipped, "failed": failed}))?;
    if failed > 0 {
        bail!("{failed} line(s) could not be imported");
    }
    Ok(())
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

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username.as_str(),
        "email": user.email,
        "phone": user.phone,
        "scopes": user.scopes.as_ref().map(|s| s.to_string()),
        "created_at": user.created_at,
        "password_scheme": gatehouse_core::legacy_hash::describe(&user.password_hash),
    })
}

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
