//! The `gatehouse` binary: parses the command line, builds one [`config::Config`], and runs the
//! server or a management command.

mod admin;
mod cleanup;
mod cli;
mod config;
mod connections;
mod demo;
#[cfg(test)]
mod docs_check;
mod help;
mod keys;
mod logging;
mod priority;
mod secret_key;
mod security_cli;
mod security_config;
mod server;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ServeArgs};
use crate::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Command::Serve(args) => args.clone(),
        Command::Demo(args) => ServeArgs {
            listen: args.listen,
            ..ServeArgs::default()
        },
        _ => ServeArgs::default(),
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
        Command::Demo(_) => demo::run(config).await,
        Command::Client(cmd) => admin::client(&config, cmd).await,
        Command::User(cmd) => admin::user(&config, cmd).await,
        Command::Keys(cmd) => keys::run(&config, cmd).await,
        Command::Events(args) => security_cli::events(&config, &args).await,
    }
}
