//! The `gatehouse` binary: parses the command line, builds one [`config::Config`], and runs the
//! server or a management command.
//!
//! - `cli.rs` declares the commands, `options.rs` every configuration option (flag, variable and
//!   file key at once), `config.rs` validates them into [`config::Config`].
//! - `server.rs` wires the core services and serves (with `connections.rs` and its
//!   `connection_activity.rs` and `connection_cap.rs`, `tls.rs`, `cleanup.rs`, `priority.rs`);
//!   `secret_key.rs` loads the server key.
//! - `clients.rs`, `users.rs`, `sessions.rs`, `keys.rs`, `events.rs`, `webhooks.rs`, `demo.rs` are the management commands:
//!   they parse, call the core's admin services (wired in `admin.rs`) and print.
//! - `breached/` builds the breached-password lists and runs `blocklist build`.
//! - `webhook_config.rs` reads the webhook options, `webhook_delivery.rs` sends the outbox.

mod admin;
mod breached;
mod cleanup;
mod cli;
mod clients;
mod config;
mod connection_activity;
mod connection_cap;
mod connections;
mod demo;
#[cfg(test)]
mod docs_check;
mod events;
#[cfg(test)]
mod field_parity;
mod help;
mod keys;
mod logging;
mod options;
mod password_config;
mod priority;
mod secret_key;
mod security_config;
mod server;
mod sessions;
mod tls;
mod user_stores;
mod users;
mod webhook_config;
mod webhook_delivery;
mod webhooks;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::options::ServeOptions;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Command::Serve(args) => args.clone(),
        Command::Demo(args) => ServeOptions {
            listen: args.listen,
            ..ServeOptions::default()
        },
        _ => ServeOptions::default(),
    };
    // Loaded before the runtime starts: the runtime's threads take their priority from it.
    let config = match Config::load(&cli.global, &serve_args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(config.log_level.as_deref(), config.log_format);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("gatehouse-rt");
    let nice = config.runtime_nice;
    if nice > 0 && matches!(cli.command, Command::Serve(_) | Command::Demo(_)) {
        builder.on_thread_start(move || priority::lower_current_thread(nice));
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => server::serve(&config, None).await,
        Command::Demo(args) => demo::run(config, args.tls).await,
        Command::Client(cmd) => clients::run(&config, cmd).await,
        Command::User(cmd) => users::run(&config, cmd).await,
        Command::Session(cmd) => sessions::run(&config, cmd).await,
        Command::Keys(cmd) => keys::run(&config, cmd).await,
        Command::Events(args) => events::run(&config, &args).await,
        Command::Blocklist(cmd) => breached::run(cmd),
        Command::Webhook(cmd) => webhooks::run(&config, cmd).await,
    }
}
