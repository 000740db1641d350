//! The User resource of the admin API. The path id is the username (normalized with PRECIS
//! UsernameCaseMapped); the body may hold `password` (write-only, hashed with argon2id),
//! `email`, `phone` (or Aidbox's `phoneNumber`), `scopes` (`null`: whatever the client
//! allows), `active` (`false` disables the user and ends their sessions), `attributes` (a JSON
//! object, bounded: see [`crate::claims::profile`]; `null` for none) and `roles` (a list of
//! names; `null` for none), which clients' claim mappers put into tokens. A PUT without
//! `password` keeps the stored one; a password is held to the password policy unless the body
//! also says `"allow_weak_password": true`. Rendered users never hold the password or its hash;
//! they show when it was set (`password_changed_at`) and why it must be changed
//! (`password_change_required`: `breached:LIST` or `expired`), if it must.

use secrecy::SecretString;
use serde_json::{json, Value};

use super::fields::{Change, Fields, Schema};
use crate::claims::{Attributes, Roles};
use crate::error::Error;
use crate::scope::ScopeSet;
use crate::user::{User, Username, MAX_PASSWORD_LEN};

/// Every field of the User resource an administrator sets: the one list the parser reads (it
/// reads no other key but `resourceType`, `id` and `phoneNumber`, Aidbox's name for `phone`;
/// asserted in debug builds), render shows (but the write-only `password`), and the CLI's
/// `user add`/`user update` have a flag for (checked by the CLI's tests).
pub const USER_FIELDS: &[&str] = &[
    "password",
    "email",
    "phone",
    "scopes",
    "active",
    "attributes",
    "roles",
];

/// Options of a write that are not stored fields, named alike in the body and in the CLI's
/// `user add` (and `user set-password`): `allow_weak_password` sets a password that fails the
/// password policy, knowingly (recorded as an event).
pub const USER_WRITE_OPTIONS: &[&str] = &["allow_weak_password"];

const SCHEMA: Schema = Schema {
    fields: USER_FIELDS,
    others: &["resourceType", "id", "phoneNumber", "allow_weak_password"],
};

/// What a User body asks for.
pub(crate) struct UserBody {
    pub(crate) password: Option<SecretString>,
    pub(crate) email: Change<String>,
    pub(crate) phone: Change<String>,
    pub(crate) scopes: Change<ScopeSet>,
    pub(crate) active: Option<bool>,
    /// New attributes (`Remove`: none).
    pub(crate) attributes: Change<Attributes>,
    /// New roles (`Remove`: none).
    pub(crate) roles: Change<Roles>,
    /// Set `password` even if it fails the policy (recorded as an event).
    pub(crate) allow_weak_password: bool,
}

/// Parses a User body for `username`.
pub(crate) fn parse(username: &Username, body: &Value) -> Result<UserBody, Error> {
    let mut f = Fields::new("", body, SCHEMA)?;
    if let Some(kind) = f.string("resourceType")? {
        if kind != "User" {
            return Err(Error::invalid_field("resourceType", "must be User"));
        }
    }
    if let Some(id) = f.string("id")? {
        if Username::parse(&id).ok().as_ref() != Some(username) {
            return Err(Error::invalid_field(
                "id",
                "differs from the username in the path",
            ));
        }
    }
    let password = match f.string("password")? {
        Some(p) if p.is_empty() || p.len() > MAX_PASSWORD_LEN => {
            return Err(Error::invalid_field(
                "password",
                format!("must be 1 to {MAX_PASSWORD_LEN} bytes"),
            ))
        }
        p => p.map(SecretString::from),
    };
    let email = text(&mut f, "email")?;
    let phone = match (text(&mut f, "phone")?, text(&mut f, "phoneNumber")?) {
        (Change::Keep, other) | (other, Change::Keep) => other,
        _ => {
            return Err(Error::invalid_field(
                "phoneNumber",
                "give phone or phoneNumber, not both",
            ))
        }
    };
    let scopes = match f.change("scopes") {
        Change::Keep => Change::Keep,
        Change::Remove => Change::Remove,
        Change::Set(v) => {
            let tokens: Option<Vec<String>> = match v {
                Value::String(s) => Some(vec![s]),
                Value::Array(items) => items
                    .into_iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect(),
                _ => None,
            };
            let tokens = tokens
                .ok_or_else(|| Error::invalid_field("scopes", "must be a list of strings"))?;
            Change::Set(ScopeSet::parse(&tokens.join(" ")).map_err(|e| {
                Error::invalid_field("scopes", e.description().unwrap_or("invalid scope"))
            })?)
        }
    };
    let active = f.boolean("active")?;
    let attributes = match f.change("attributes") {
        Change::Set(v) => {
            Change::Set(Attributes::parse(&v).map_err(|e| Error::invalid_field("attributes", e))?)
        }
        other => other.map(|_| Attributes::default()),
    };
    let roles = match f.change("roles") {
        Change::Set(v) => {
            Change::Set(Roles::parse_value(&v).map_err(|e| Error::invalid_field("roles", e))?)
        }
        other => other.map(|_| Roles::default()),
    };
    let allow_weak_password = f.boolean("allow_weak_password")?.unwrap_or(false);
    f.finish(&["meta"])?;
    Ok(UserBody {
        password,
        email,
        phone,
        scopes,
        active,
        attributes,
        roles,
        allow_weak_password,
    })
}

fn text(f: &mut Fields, key: &str) -> Result<Change<String>, Error> {
    match f.change(key) {
        Change::Keep => Ok(Change::Keep),
        Change::Remove => Ok(Change::Remove),
        Change::Set(Value::String(s)) if s.len() <= 320 => Ok(Change::Set(s)),
        Change::Set(_) => Err(Error::invalid_field(
            key,
            "must be a string of at most 320 bytes",
        )),
    }
}

/// Applies a change to an optional field.
pub(crate) fn apply<T>(current: Option<T>, change: Change<T>) -> Option<T> {
    match change {
        Change::Keep => current,
        Change::Remove => None,
        Change::Set(v) => Some(v),
    }
}

/// The resource as the API shows it: no password, no hash.
pub(crate) fn render(user: &User) -> Value {
    json!({
        "resourceType": "User",
        "id": user.username.as_str(),
        "sub": user.id,
        "email": user.email,
        "phone": user.phone,
        "scopes": user.scopes.as_ref().map(|s| s.iter().collect::<Vec<_>>()),
        "created_at": user.created_at,
        "active": user.active,
        "password_changed_at": user.password_changed_at,
        "password_change_required": user.password_change_required,
        "attributes": user.attributes.as_map(),
        "roles": user.roles.to_value(),
        "store": user.store,
        "password_checked_by": password_checked_by(user),
    })
}

/// Where a login's password is checked: `local` (this database, migrated users included) or
/// the name of the external store that checks every login (issue 22).
pub fn password_checked_by(user: &User) -> &str {
    match (&user.store, user.is_checked_externally()) {
        (Some(store), true) => store,
        _ => "local",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_field_by_field() {
        let name = Username::parse("jane").unwrap();
        let ok = parse(
            &name,
            &json!({"id": "Jane", "password": "pw", "phoneNumber": "+1"}),
        )
        .unwrap();
        assert_eq!(ok.phone, Change::Set("+1".into()));
        for (body, field) in [
            (json!({"id": "john"}), "id:"),
            (json!({"password": ""}), "password:"),
            (json!({"scopes": [1]}), "scopes:"),
            (json!({"phone": "1", "phoneNumber": "2"}), "phoneNumber:"),
            (json!({"nickname": "J"}), "nickname:"),
            (json!({"attributes": ["a"]}), "attributes:"),
            (json!({"attributes": {"bad key": 1}}), "attributes:"),
            (json!({"roles": "admin"}), "roles:"),
            (json!({"roles": ["has space"]}), "roles:"),
        ] {
            let err = parse(&name, &body).err().unwrap();
            assert!(err.description().unwrap().starts_with(field), "{err:?}");
        }
    }
}
