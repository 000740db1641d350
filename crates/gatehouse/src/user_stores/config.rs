//! The `[[user_store]]` tables of the configuration file (issue 22), file only: the shape is
//! the documented contract of docs/user-stores.md, unknown keys are refused, and every store is
//! validated at start (a plain-text `ldap://` or `http://` store is refused unless
//! `allow_insecure = true`, which is for tests).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use gatehouse_core::external_users::MAX_STORE_NAME_LEN;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The default time a store has to answer.
const DEFAULT_TIMEOUT_MS: u64 = 3000;
/// The default number of idle LDAP connections kept per store.
const DEFAULT_POOL_SIZE: usize = 4;

/// One `[[user_store]]` table, as written.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserStoreOptions {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bind_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bind_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bind_password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) base_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) filter: Option<String>,
    /// Direct bind: a DN with `{username}` (RFC 4514-escaped), instead of search-then-bind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bind_dn_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ca_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) starttls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) allow_insecure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) migrate: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) attributes: Option<AttributeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) secret_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pool_size: Option<usize>,
}

/// `attributes = { email = "mail", … }`: the store's attribute names for the profile.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttributeOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) roles: Option<String>,
}

/// A validated store.
#[derive(Clone, Debug)]
pub(crate) struct UserStoreSettings {
    pub(crate) name: String,
    pub(crate) migrate: bool,
    pub(crate) timeout: Duration,
    pub(crate) kind: StoreKind,
}

/// What kind of store, with its own settings.
#[derive(Clone, Debug)]
pub(crate) enum StoreKind {
    Ldap(LdapSettings),
    Http(HttpSettings),
}

/// How users are found and checked in a directory.
#[derive(Clone, Debug)]
pub(crate) enum LdapLookup {
    /// Bind as the service account, search `base_dn` with `filter`, then bind as the entry.
    Search {
        bind_dn: String,
        bind_password: SecretString,
        base_dn: String,
        filter: String,
    },
    /// Bind as the DN the template makes; the profile is read from that entry.
    Direct { template: String },
}

/// An LDAP / Active Directory store.
#[derive(Clone, Debug)]
pub(crate) struct LdapSettings {
    pub(crate) url: String,
    pub(crate) starttls: bool,
    /// Neither ldaps nor StartTLS (tests only).
    pub(crate) plain: bool,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) lookup: LdapLookup,
    pub(crate) attributes: AttributeOptions,
    pub(crate) pool_size: usize,
}

/// An HTTP credential check.
#[derive(Clone, Debug)]
pub(crate) struct HttpSettings {
    pub(crate) url: String,
    pub(crate) secret: SecretString,
    pub(crate) ca_file: Option<PathBuf>,
}

/// Validates every table; names must be unique.
pub(crate) fn settings(options: &[UserStoreOptions]) -> Result<Vec<UserStoreSettings>> {
    let mut out: Vec<UserStoreSettings> = Vec::new();
    for o in options {
        let s = one(o).with_context(|| format!("user_store {:?}", o.name))?;
        ensure!(
            out.iter().all(|other| other.name != s.name),
            "user_store {:?} is named twice",
            s.name
        );
        out.push(s);
    }
    Ok(out)
}

fn one(o: &UserStoreOptions) -> Result<UserStoreSettings> {
    ensure!(
        !o.name.is_empty()
            && o.name.len() <= MAX_STORE_NAME_LEN
            && o.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && o.name != "local",
        "name must be 1 to {MAX_STORE_NAME_LEN} letters, digits, '-', '_' or '.', not `local`"
    );
    let insecure = o.allow_insecure.unwrap_or(false);
    let timeout = Duration::from_millis(o.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
    ensure!(!timeout.is_zero(), "timeout_ms must be positive");
    let kind = match o.kind.as_str() {
        "ldap" => StoreKind::Ldap(ldap(o, insecure)?),
        "http" => StoreKind::Http(http(o, insecure)?),
        other => bail!("kind must be ldap or http, not {other:?}"),
    };
    Ok(UserStoreSettings {
        name: o.name.clone(),
        migrate: o.migrate.unwrap_or(false),
        timeout,
        kind,
    })
}

fn ldap(o: &UserStoreOptions, insecure: bool) -> Result<LdapSettings> {
    ensure!(
        o.secret.is_none() && o.secret_file.is_none(),
        "secret is for kind = \"http\""
    );
    let starttls = o.starttls.unwrap_or(false);
    let plain = match o.url.split_once("://").map(|(scheme, _)| scheme) {
        Some("ldaps") => {
            ensure!(
                !starttls,
                "starttls is for ldap:// URLs (ldaps:// is TLS already)"
            );
            false
        }
        Some("ldap") if starttls => false,
        Some("ldap") => {
            ensure!(
                insecure,
                "ldap:// sends passwords in plain text: use ldaps://, or starttls = true \
                 (allow_insecure = true is for tests only)"
            );
            true
        }
        _ => bail!("url must start with ldaps:// or ldap://"),
    };
    let lookup = match (&o.bind_dn_template, &o.filter) {
        (Some(template), None) => {
            ensure!(
                template.contains("{username}"),
                "bind_dn_template needs {{username}}"
            );
            LdapLookup::Direct {
                template: template.clone(),
            }
        }
        (None, Some(filter)) => {
            ensure!(filter.contains("{username}"), "filter needs {{username}}");
            LdapLookup::Search {
                bind_dn: o
                    .bind_dn
                    .clone()
                    .context("bind_dn is required with filter")?,
                bind_password: secret(&o.bind_password, &o.bind_password_file, "bind_password")?,
                base_dn: o
                    .base_dn
                    .clone()
                    .context("base_dn is required with filter")?,
                filter: filter.clone(),
            }
        }
        _ => bail!("set filter (search then bind) or bind_dn_template (direct bind), not both"),
    };
    let pool_size = o.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
    ensure!(pool_size >= 1, "pool_size must be at least 1");
    Ok(LdapSettings {
        url: o.url.clone(),
        starttls,
        plain,
        ca_file: o.ca_file.clone(),
        lookup,
        attributes: o.attributes.clone().unwrap_or_default(),
        pool_size,
    })
}

fn http(o: &UserStoreOptions, insecure: bool) -> Result<HttpSettings> {
    for (set, key) in [
        (o.bind_dn.is_some(), "bind_dn"),
        (o.filter.is_some(), "filter"),
        (o.base_dn.is_some(), "base_dn"),
        (o.bind_dn_template.is_some(), "bind_dn_template"),
        (o.starttls.is_some(), "starttls"),
        (o.attributes.is_some(), "attributes"),
        (o.pool_size.is_some(), "pool_size"),
        (
            o.bind_password.is_some() || o.bind_password_file.is_some(),
            "bind_password",
        ),
    ] {
        ensure!(!set, "{key} is for kind = \"ldap\"");
    }
    let url = reqwest::Url::parse(&o.url).context("url is not a URL")?;
    match url.scheme() {
        "https" => {}
        "http" => ensure!(
            insecure,
            "http:// sends passwords in plain text: use https:// (allow_insecure = true is for \
             tests only)"
        ),
        other => bail!("url scheme {other} is not https"),
    }
    Ok(HttpSettings {
        url: o.url.clone(),
        secret: secret(&o.secret, &o.secret_file, "secret")?,
        ca_file: o.ca_file.clone(),
    })
}

/// An inline secret or the first line of a file.
fn secret(inline: &Option<String>, file: &Option<PathBuf>, key: &str) -> Result<SecretString> {
    match (inline, file) {
        (Some(value), None) => Ok(SecretString::from(value.clone())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {key}_file {}", path.display()))?;
            let value = text.lines().next().unwrap_or_default().to_owned();
            ensure!(!value.is_empty(), "{key}_file {} is empty", path.display());
            Ok(SecretString::from(value))
        }
        (Some(_), Some(_)) => bail!("set {key} or {key}_file, not both"),
        (None, None) => bail!("{key} (or {key}_file) is required"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::FileOptions;

    const LDAP: &str = r#"
[[user_store]]
name = "corp"
kind = "ldap"
url = "ldaps://ldap.example:636"
bind_dn = "cn=svc,dc=example,dc=com"
bind_password = "pw"
base_dn = "ou=people,dc=example,dc=com"
filter = "(&(objectClass=person)(uid={username}))"
ca_file = "/etc/gatehouse/ca.pem"
migrate = true
attributes = { email = "mail", phone = "telephoneNumber", name = "cn", roles = "memberOf" }
"#;

    #[test]
    fn the_documented_shape_parses() {
        let file = FileOptions::parse(LDAP).unwrap();
        let stores = settings(&file.serve.user_store).unwrap();
        assert_eq!(stores.len(), 1);
        assert!(stores[0].migrate);
        let StoreKind::Ldap(ldap) = &stores[0].kind else {
            panic!("not ldap")
        };
        assert_eq!(ldap.attributes.roles.as_deref(), Some("memberOf"));
        assert!(!ldap.plain);
    }

    #[test]
    fn unknown_keys_and_plain_text_are_refused() {
        let bad = LDAP.replace("migrate = true", "migrate = true\nnickname = 1");
        assert!(FileOptions::parse(&bad).is_err());
        let bad = LDAP.replace("{ email", "{ nick = \"x\", email");
        assert!(FileOptions::parse(&bad).is_err());
        let plain = LDAP.replace("ldaps://ldap.example:636", "ldap://ldap.example:389");
        let file = FileOptions::parse(&plain).unwrap();
        assert!(settings(&file.serve.user_store).is_err());
        let tls = plain.replace("migrate = true", "migrate = true\nstarttls = true");
        let file = FileOptions::parse(&tls).unwrap();
        assert!(settings(&file.serve.user_store).is_ok());
        let http =
            "[[user_store]]\nname = \"h\"\nkind = \"http\"\nurl = \"http://x\"\nsecret = \"s\"";
        let file = FileOptions::parse(http).unwrap();
        assert!(settings(&file.serve.user_store).is_err());
        let https = http.replace("http://x", "https://x");
        let file = FileOptions::parse(&https).unwrap();
        assert!(settings(&file.serve.user_store).is_ok());
    }
}
