//! Keeps the command line and the admin API in step: every settable field of the Client and
//! User resources (as the core declares them, the lists its parsers may read and render shows:
//! [`gatehouse_core::admin::CLIENT_FIELDS`], [`gatehouse_core::admin::USER_FIELDS`]) has a
//! flag in `client add` and `client update` (`user add` and `user update`), and every flag of
//! those commands is a field. A flag is named after the field's last part in kebab case
//! (`auth.password.secret_required`: `--secret-required`), an alias counts
//! (`--access-token-expiration`), `--X-file` and `--X-stdin` read field X from a file or from
//! standard input, `--no-X` clears field X, a repeatable flag named in the singular gives one
//! item of a list or map field named in the plural (`--role` of `roles`, `--claim` of `claims`,
//! `--attribute` of `attributes`), and `--generate-secret` sets `secret`.

use clap::CommandFactory;
use gatehouse_core::admin::{CLIENT_FIELDS, USER_FIELDS, USER_WRITE_OPTIONS};
use gatehouse_core::webhook::WEBHOOK_FIELDS;

use crate::cli::Cli;

/// The flags of `gatehouse GROUP SUB`, each as its long name and aliases.
fn flags(group: &str, sub: &str) -> Vec<Vec<String>> {
    let top = Cli::command();
    let cmd = top
        .find_subcommand(group)
        .and_then(|g| g.find_subcommand(sub))
        .unwrap_or_else(|| panic!("no command {group} {sub}"));
    cmd.get_arguments()
        .filter(|a| !a.is_positional())
        .map(|a| {
            let mut names: Vec<String> = a.get_long().map(str::to_owned).into_iter().collect();
            names.extend(
                a.get_all_aliases()
                    .unwrap_or_default()
                    .into_iter()
                    .map(str::to_owned),
            );
            names
        })
        .filter(|names| names.first().is_some_and(|n| n != "help"))
        .collect()
}

/// The field a flag sets.
fn field_of(flag: &str) -> String {
    let name = match flag {
        "generate-secret" => "secret",
        other => other
            .strip_suffix("-file")
            .or_else(|| other.strip_suffix("-stdin"))
            .or_else(|| other.strip_prefix("no-"))
            .unwrap_or(other),
    };
    name.replace('-', "_")
}

/// Whether a flag setting `set` (see [`field_of`]) sets the field whose last part is `leaf`:
/// the same name, or its plural (one item of it).
fn sets_field(set: &str, leaf: &str) -> bool {
    set == leaf || leaf.strip_suffix('s') == Some(set)
}

/// The last part of a dotted field.
fn leaf(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

/// What one side lacks: fields without a flag, and flags that set no field.
fn gaps(fields: &[&str], exempt: &[&str], group: &str, sub: &str) -> Vec<String> {
    let flags = flags(group, sub);
    // The fields each flag sets, one per name.
    let sets: Vec<Vec<String>> = flags
        .iter()
        .map(|names| names.iter().map(|n| field_of(n)).collect())
        .collect();
    let mut out = Vec::new();
    for field in fields.iter().filter(|f| !exempt.contains(f)) {
        if !sets.iter().flatten().any(|s| sets_field(s, leaf(field))) {
            out.push(format!("{group} {sub} has no flag for the field {field}"));
        }
    }
    for (names, set) in flags.iter().zip(&sets) {
        if !set
            .iter()
            .any(|s| fields.iter().any(|f| sets_field(s, leaf(f))))
        {
            out.push(format!(
                "{group} {sub} --{} sets no {group} field",
                names[0]
            ));
        }
    }
    out
}

/// Every Client field has a flag in `client add` and `client update`, and every flag of
/// theirs is a field.
#[test]
fn client_commands_and_the_client_resource_have_the_same_fields() {
    let mut missing = gaps(CLIENT_FIELDS, &[], "client", "add");
    missing.extend(gaps(CLIENT_FIELDS, &[], "client", "update"));
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Every User field has a flag in `user add` and `user update` (whose password is changed by
/// `user set-password`), and every flag of theirs is a field.
#[test]
fn user_commands_and_the_user_resource_have_the_same_fields() {
    let with_options = [USER_FIELDS, USER_WRITE_OPTIONS].concat();
    let mut missing = gaps(&with_options, &[], "user", "add");
    missing.extend(gaps(USER_FIELDS, &["password"], "user", "update"));
    let top = Cli::command();
    let user = top.find_subcommand("user").expect("a user command");
    assert!(user.find_subcommand("set-password").is_some());
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Every Webhook field has a flag in `webhook add` (whose URL is its argument) and `webhook
/// update`, and every flag of theirs is a field.
#[test]
fn webhook_commands_and_the_webhook_resource_have_the_same_fields() {
    let mut missing = gaps(WEBHOOK_FIELDS, &["url"], "webhook", "add");
    missing.extend(gaps(WEBHOOK_FIELDS, &[], "webhook", "update"));
    let top = Cli::command();
    let add = top
        .find_subcommand("webhook")
        .and_then(|w| w.find_subcommand("add"))
        .expect("a webhook add command");
    assert!(add
        .get_arguments()
        .any(|a| a.is_positional() && a.get_id() == "url"));
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The test's rule finds a gap: a field nobody has a flag for, and a flag for no field.
#[test]
fn a_missing_flag_and_a_stray_flag_are_named() {
    let missing = gaps(&["email", "colour"], &[], "user", "update");
    assert!(missing.contains(&"user update has no flag for the field colour".to_owned()));
    assert!(missing.contains(&"user update --phone sets no user field".to_owned()));
}

/// `--no-X` clears X, and a singular flag gives one item of a plural field; neither rule lets
/// an unrelated flag pass.
#[test]
fn clearing_and_singular_flags_map_onto_their_fields() {
    assert_eq!(field_of("no-roles"), "roles");
    assert!(sets_field(&field_of("role"), "roles"));
    assert!(sets_field(&field_of("attribute"), "attributes"));
    assert!(!sets_field(&field_of("attr"), "attributes"));
    assert!(!sets_field(&field_of("scope"), "roles"));
    let missing = gaps(
        &["email", "phone", "scopes", "active"],
        &[],
        "user",
        "update",
    );
    assert!(missing.contains(&"user update --role sets no user field".to_owned()));
}
