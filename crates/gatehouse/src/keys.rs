//! `gatehouse keys rotate` and `gatehouse keys list`: signing keys in the configured database,
//! through the core's [`SigningKeys`], which adds a key the same race-free way as `serve`. A
//! rotation only adds a key; running servers reload their ring within a few seconds
//! (gatehouse_core::token::key_cache::KEY_RELOAD_SECS), sign with the new key, and keep
//! publishing the old one until every token it signed has expired
//! (gatehouse_core::token::keys::RETIREMENT).

use std::sync::Arc;

use anyhow::{Context, Result};
use gatehouse_core::admin::keys::SigningKeys;
use gatehouse_core::clock::SystemClock;
use gatehouse_core::token::keys::SigningAlg;
use serde_json::json;

use crate::admin::print_json;
use crate::cli::KeysCommand;
use crate::config::Config;
use crate::secret_key::sealer;
use crate::server::open_store;

/// Runs a `keys` subcommand.
pub(crate) async fn run(config: &Config, cmd: KeysCommand) -> Result<()> {
    let store = open_store(config).await?;
    let keys = SigningKeys::new(store, Arc::new(SystemClock));
    match cmd {
        KeysCommand::Rotate { alg } => {
            let alg = match alg {
                Some(alg) => SigningAlg::parse(&alg)?,
                None => config.signing_alg,
            };
            let key = keys
                .rotate(alg, &*sealer(config)?)
                .await
                .context("storing the new signing key")?;
            print_json(&json!({"kid": key.kid, "alg": key.alg, "created_at": key.created_at}))
        }
        KeysCommand::List => print_json(&serde_json::to_value(keys.states().await?)?),
    }
}
