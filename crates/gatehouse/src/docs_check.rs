//! Keeps docs/configuration.md in step with the code: every option that has an environment
//! variable is listed with its flag, variable and default, every TOML key is listed, and the
//! example file parses.

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};

const DOC: &str = include_str!("../../../docs/configuration.md");

/// Every argument of `cmd` and its subcommands, with the command path that owns it.
fn args(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Arg)>) {
    for arg in cmd.get_arguments() {
        out.push((path.clone(), arg.clone()));
    }
    for sub in cmd.get_subcommands() {
        args(sub, format!("{path} {}", sub.get_name()), out);
    }
}

/// The `[default: X]` of a help text, up to its first comma.
fn documented_default(help: &str) -> Option<String> {
    let rest = help.split("[default: ").nth(1)?;
    let value = rest.split(']').next()?;
    Some(value.split(',').next()?.trim().to_owned())
}

/// Every key the TOML file accepts, dotted (`password_hash.workers`): the options as the file
/// would hold them after a command line that sets every flag of `serve` and the global ones.
fn file_keys() -> Vec<String> {
    let top = Cli::command();
    let serve = top.find_subcommand("serve").expect("a serve command");
    let mut line = vec!["gatehouse".to_owned()];
    for (cmd, then) in [(&top, "serve"), (serve, "")] {
        for arg in cmd.get_arguments() {
            let long = arg.get_long().unwrap_or_default();
            if ["", "help", "version", "config"].contains(&long) {
                continue;
            }
            let value_name = arg
                .get_value_names()
                .and_then(|names| names.first())
                .map(|name| name.to_string());
            let value = match value_name.as_deref() {
                Some("ADDR") => "127.0.0.1:1",
                Some("CIDRS") => "10.0.0.0/8",
                Some("FORMAT") => "json",
                Some("on|off") => "on",
                _ => "1",
            };
            line.extend([format!("--{long}"), value.to_owned()]);
        }
        if !then.is_empty() {
            line.push(then.to_owned());
        }
    }
    let cli = Cli::try_parse_from(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let Command::Serve(serve) = cli.command else {
        panic!("not serve")
    };
    let mut table = toml::Value::try_from(&cli.global).unwrap();
    let toml::Value::Table(serve) = toml::Value::try_from(&serve).unwrap() else {
        panic!("not a table")
    };
    let toml::Value::Table(all) = &mut table else {
        panic!("not a table")
    };
    for (key, value) in serve {
        match (all.get_mut(&key), value) {
            (Some(toml::Value::Table(known)), toml::Value::Table(more)) => known.extend(more),
            (_, value) => {
                all.insert(key, value);
            }
        }
    }
    let mut keys = Vec::new();
    for (key, value) in all.iter() {
        match value {
            toml::Value::Table(inner) => keys.extend(inner.keys().map(|k| format!("{key}.{k}"))),
            _ => keys.push(key.clone()),
        }
    }
    keys
}

#[test]
fn every_option_with_an_environment_variable_is_documented() {
    let mut all = Vec::new();
    args(&Cli::command(), "gatehouse".into(), &mut all);
    let mut checked = 0;
    for (path, arg) in &all {
        let Some(env) = arg.get_env() else { continue };
        let env = env.to_string_lossy();
        let flag = format!("`--{}`", arg.get_long().unwrap_or_default());
        let row = DOC
            .lines()
            .find(|l| l.contains(&flag) && l.contains(&format!("`{env}`")))
            .unwrap_or_else(|| panic!("{path} {flag} [{env}] has no row in the docs"));
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        if let Some(default) = documented_default(&help) {
            assert!(
                row.contains(&default),
                "{flag}: the docs lack default {default:?}: {row}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} options were checked");
}

#[test]
fn every_file_key_is_documented() {
    let keys = file_keys();
    assert!(keys.len() >= 37, "{keys:?}");
    for key in keys {
        assert!(
            DOC.contains(&format!("`{key}`")),
            "file key {key} is not in the docs"
        );
    }
}

#[test]
fn the_example_file_parses() {
    let example = DOC
        .split("```toml")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an example file");
    crate::options::FileOptions::parse(example).unwrap();
}

#[test]
fn every_command_has_a_manual_page_style_help() {
    let mut cmd = Cli::command();
    let top = cmd.render_long_help().to_string();
    assert!(
        top.contains("EXAMPLES:") && top.contains("ENVIRONMENT:"),
        "{top}"
    );
    for sub in cmd.get_subcommands_mut().filter(|s| s.get_name() != "help") {
        let help = sub.render_long_help().to_string();
        assert!(
            help.contains("EXAMPLES:"),
            "{} has no EXAMPLES",
            sub.get_name()
        );
    }
}
