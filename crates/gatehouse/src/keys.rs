//! `gatehouse keys rotate` and `gatehouse keys list`: signing keys in the configured database.
//! A rotation only adds a key; running servers reload their ring within a few seconds
//! (gatehouse_core::token::key_cache::KEY_RELOAD_SECS), sign with the new key, and keep
//! publishing the old one until every token it signed has expired
//! (gatehouse_core::token::keys::RETIREMENT).

use anyhow::{Context, Result};
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::token::keys::{retired_at, SigningAlg, SigningKey};
use serde_json::{json, Value};

use crate::cli::KeysCommand;
use crate::config::Config;
use crate::secret_key::sealer;
use crate::server::open_store;

/// Runs a `keys` subcommand.
pub(crate) async fn run(config: &Config, cmd: KeysCommand) -> Result<()> {
    let store = open_store(config).await?;
    match cmd {
        KeysCommand::Rotate { alg } => {
            let alg = match alg {
                Some(alg) => SigningAlg::parse(&alg)?,
                None => config.signing_alg,
            };
            let sealer = sealer(config)?;
            let now = SystemClock.now();
            // A key made in the same second as the newest one would not sort after it.
            let newest = store.signing_keys().await?.last().map(|k| k.created_at);
            let created = newest.map_or(now, |n| now.max(n + 1));
            let key = SigningKey::generate(alg, created, &sealer)?;
            store
                .insert_signing_key(&key)
                .await
                .context("storing the new signing key")?;
            print_json(&json!({"kid": key.kid, "alg": key.alg, "created_at": key.created_at}))
        }
        KeysCommand::List => {
            let stored = store.signing_keys().await?;
            let now = SystemClock.now();
            let keys: Vec<Value> = stored
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let retires = retired_at(&stored, i);
                    let state = match retires {
                        None => "current",
                        Some(at) if at > now => "published",
                        Some(_) => "retired",
                    };
                    json!({
                        "kid": k.kid,
                        "alg": k.alg,
                        "created_at": k.created_at,
                        "state": state,
                        "retires_at": retires,
                    })
                })
                .collect();
            print_json(&Value::Array(keys))
        }
    }
}

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
