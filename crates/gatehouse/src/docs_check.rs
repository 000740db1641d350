//! Keeps docs/configuration.md in step with the code: every option that has an environment
//! variable is listed with its flag, variable and default, every TOML key is listed, and the
//! example file parses.

use clap::CommandFactory;

use crate::cli::Cli;

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
    let keys = crate::config::file_keys();
    assert!(keys.len() >= 12, "{keys:?}");
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
    crate::config::parse_file(example).unwrap();
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
