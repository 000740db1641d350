//! `gatehouse keys rotate` and `gatehouse keys list`: signing keys in the configured database,
//! through the core's [`SigningKeys`], which adds keys the same race-free way as `serve`. A
//! rotation adds a new default key (of `--alg`, or the configured algorithm) and a new key of
//! each other algorithm clients name; running servers reload their ring within a few seconds
//! (gatehouse_core::token::key_cache::KEY_RELOAD_SECS), sign with the new key, and keep
//! publishing the old one until every token it signed has expired
//! (gatehouse_core::token::keys::RETIREMENT).

use std::sync::Arc;

use anyhow::{Context, Result};
use gatehouse_core::admin::keys::SigningKeys;
use gatehouse_core::clock::SystemClock;
use gatehouse_core::store::StoredKey;
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
    let keys = SigningKeys::new(store.clone(), Arc::new(SystemClock));
    match cmd {
        KeysCommand::Rotate { alg } => {
            let alg = match alg {
                Some(alg) => SigningAlg::parse(&alg)?,
                None => config.signing_alg,
            };
            let clients = store.list_clients().await.context("reading clients")?;
            let client_algs: Vec<SigningAlg> = clients
                .iter()
                .flat_map(|c| c.settings.signing_algs())
                .collect();
            let added = keys
                .rotate(alg, &client_algs, &*sealer(config)?)
                .await
                .context("storing the new signing keys")?;
            let shown =
                |k: &StoredKey| json!({"kid": k.kid, "alg": k.alg, "created_at": k.created_at});
            let (default, for_clients) =
                added.split_first().context("the rotation added no key")?;
            let mut out = shown(default);
            out["client_keys"] = for_clients.iter().map(shown).collect();
            print_json(&out)
        }
        KeysCommand::List => print_json(&serde_json::to_value(keys.states().await?)?),
    }
}
