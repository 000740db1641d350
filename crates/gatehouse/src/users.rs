//! `gatehouse user …`: add, import, list, show, remove, set a password, unlock, disable,
//! enable, and list or remove second factors, through the core's admin service. Passwords are read from standard
//! input; output is JSON without any hash.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use gatehouse_core::admin::mfa::render;
use gatehouse_core::admin::{AdminService, Imported, NewUser};
use gatehouse_core::claims::{Attributes, Roles};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::{User, Username, MAX_PASSWORD_LEN};
use gatehouse_core::Error;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::admin::{or_missing, print_json, service, CLI};
use crate::cli::{UserAddArgs, UserCommand, UserMfaCommand, UserUpdateArgs};
use crate::config::Config;

/// Runs a `user` subcommand.
pub(crate) async fn run(config: &Config, cmd: UserCommand) -> Result<()> {
    let admin = service(config, None).await?;
    match cmd {
        UserCommand::Add(args) => add(&admin, args).await,
        UserCommand::List { store } => {
            let users = admin.list_users().await?;
            // `--store local` lists the users created here; `--store NAME` those from NAME.
            let from = |u: &&User| match store.as_deref() {
                None => true,
                Some("local") => u.store.is_none(),
                Some(name) => u.store.as_deref() == Some(name),
            };
            print_json(&Value::Array(
                users.iter().filter(from).map(user_json).collect(),
            ))
        }
        UserCommand::Show { username } => {
            let user = find(&admin, &username).await?;
            print_json(&user_json(&user))
        }
        UserCommand::Remove { username } => {
            let name = Username::parse(&username)?;
            admin
                .remove_user(&CLI, name.as_str())
                .await
                .with_context(|| format!("removing user {name}"))?;
            eprintln!("removed user {name}");
            Ok(())
        }
        UserCommand::Import {
            file,
            allow_weak_password,
        } => import(&admin, &file, allow_weak_password).await,
        UserCommand::Mfa(cmd) => mfa(&admin, cmd).await,
        UserCommand::Unlock { username } => {
            let user = find(&admin, &username).await?;
            admin.unlock(&CLI, user.username.as_str()).await?;
            eprintln!("unlocked user {}", user.username);
            Ok(())
        }
        UserCommand::SetPassword {
            username,
            keep_session,
            allow_weak_password,
            ..
        } => {
            let name = Username::parse(&username)?;
            let keep = keep_session.as_deref();
            let weak = allow_weak_password;
            admin
                .set_password(&CLI, name.as_str(), &read_password()?, keep, weak)
                .await
                .with_context(|| format!("setting the password of {name}"))?;
            eprintln!("password of {name} replaced");
            Ok(())
        }
        UserCommand::Update(args) => update(&admin, args).await,
        UserCommand::Disable { username } => set_active(&admin, &username, false).await,
        UserCommand::Enable { username } => set_active(&admin, &username, true).await,
    }
}

/// `user update`: the fields the flags name, put as `PUT /User/USERNAME` would (the password
/// and every other field stay), so the command and the API change a user alike.
async fn update(admin: &AdminService, args: UserUpdateArgs) -> Result<()> {
    let user = find(admin, &args.username).await?;
    let text = |v: String| if v.is_empty() { Value::Null } else { v.into() };
    let mut body = json!({});
    let fields = [
        ("email", args.email.map(text)),
        ("phone", args.phone.map(text)),
        ("scopes", args.scopes.map(text)),
        ("active", args.active.map(Value::from)),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            body[field] = value;
        }
    }
    // `--attribute KEY=VALUE` edits one key (`KEY=` removes it) of the stored object, after
    // `--no-attributes` emptied it; the roles given replace the stored ones.
    if args.no_attributes || !args.attribute.is_empty() {
        let base = if args.no_attributes {
            Attributes::default()
        } else {
            user.attributes.clone()
        };
        let edited = base
            .edited(args.attribute.iter().map(String::as_str))
            .map_err(|e| anyhow!("--attribute: {e}"))?;
        body["attributes"] = Value::Object(edited.as_map().clone());
    }
    if args.no_roles {
        body["roles"] = json!([]);
    } else if !args.role.is_empty() {
        body["roles"] = json!(args.role);
    }
    let name = user.username.as_str();
    admin
        .put_user(&CLI, name, &body, None)
        .await
        .with_context(|| format!("updating user {name}"))?;
    print_json(&user_json(&find(admin, name).await?))
}

async fn add(admin: &AdminService, args: UserAddArgs) -> Result<()> {
    let username = Username::parse(&args.username)?;
    let new = NewUser {
        username: username.clone(),
        scopes: args.scopes.as_deref().map(ScopeSet::parse).transpose()?,
        password: read_password()?,
        email: args.email,
        phone: args.phone,
        active: args.active,
        attributes: Attributes::default()
            .edited(args.attribute.iter().map(String::as_str))
            .map_err(|e| anyhow!("--attribute: {e}"))?,
        roles: Roles::parse(&args.role).map_err(|e| anyhow!("--role: {e}"))?,
        allow_weak_password: args.allow_weak_password,
    };
    let user = admin
        .add_user(&CLI, new)
        .await
        .with_context(|| format!("adding user {username}"))?;
    print_json(&user_json(&user))
}

/// `user disable` and `user enable`: prints the user.
async fn set_active(admin: &AdminService, username: &str, active: bool) -> Result<()> {
    let name = Username::parse(username)?;
    let user = admin
        .set_active(&CLI, name.as_str(), active)
        .await
        .map_err(|e| or_missing(e, || format!("no user {name}")))?;
    print_json(&user_json(&user))
}

/// The user named `username`, or an error saying there is none.
async fn find(admin: &AdminService, username: &str) -> Result<User> {
    let name = Username::parse(username)?;
    admin
        .find_user(name.as_str())
        .await
        .map_err(|e| or_missing(e, || format!("no user {name}")))
}

/// `user mfa list USERNAME` and `user mfa remove USERNAME ID`.
async fn mfa(admin: &AdminService, cmd: UserMfaCommand) -> Result<()> {
    let (username, remove) = match &cmd {
        UserMfaCommand::List { username } => (username, None),
        UserMfaCommand::Remove { username, id } => (username, Some(id)),
    };
    let name = find(admin, username).await?.username;
    let Some(id) = remove else {
        let all = admin.factors(name.as_str()).await?;
        let list: Vec<_> = all.iter().map(render).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    };
    let removed = admin.remove_factor(&CLI, name.as_str(), id).await?;
    anyhow::ensure!(!removed.is_empty(), "user {name} has no authenticator {id}");
    for factor in &removed {
        eprintln!(
            "removed {} authenticator {} of {name}",
            factor.kind.as_str(),
            factor.id
        );
    }
    Ok(())
}

/// Imports a JSON-lines file: every good line is stored, every bad one (a hash over the cost
/// ceiling included) reported with its number; a re-run skips users that exist. Fails (after importing the rest) if any line failed.
async fn import(admin: &AdminService, file: &Path, allow_weak: bool) -> Result<()> {
    let text = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let ceiling = admin.hash_ceiling();
    let (mut imported, mut skipped, mut failed) = (0usize, 0usize, 0usize);
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() {
            continue;
        }
        let user = match gatehouse_core::user_import::parse_line(line, &ceiling) {
            Ok(u) => u,
            Err(why) => {
                eprintln!("line {n}: {why}");
                failed += 1;
                continue;
            }
        };
        let name = user.username.clone();
        let outcome = match admin.import_user(&CLI, user, allow_weak).await {
            // A plaintext password the policy refuses fails its line, as a bad hash does.
            Err(err @ Error::InvalidPassword { .. }) => {
                eprintln!("line {n}: {err}");
                failed += 1;
                continue;
            }
            other => other,
        };
        match outcome.with_context(|| format!("line {n}: storing the user"))? {
            Imported::Added => imported += 1,
            Imported::Exists => {
                eprintln!("line {n}: user {name} exists already, skipped");
                skipped += 1;
            }
        }
    }
    print_json(&json!({"imported": imported, "skipped_existing": skipped, "failed": failed}))?;
    if failed > 0 {
        bail!("{failed} line(s) could not be imported");
    }
    Ok(())
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

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username.as_str(),
        "email": user.email,
        "phone": user.phone,
        "scopes": user.scopes.as_ref().map(|s| s.to_string()),
        "created_at": user.created_at,
        "active": user.active,
        "password_scheme": gatehouse_core::legacy_hash::describe(&user.password_hash),
        "password_changed_at": user.password_changed_at,
        "password_change_required": user.password_change_required,
        "attributes": user.attributes.as_map(),
        "roles": user.roles.to_value(),
        "store": user.store,
        "password_checked_by": gatehouse_core::admin::password_checked_by(user),
    })
}
