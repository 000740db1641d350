//! An LDAP / Active Directory user store on `ldap3` (async on tokio, rustls for TLS).
//!
//! Search then bind: bind as the service account, search `base_dn` with the filter template
//! (the username escaped per RFC 4515, so `*`, `)(` and NUL can only ever be a value), then bind
//! as the one entry found with the typed password. Direct bind: bind as the DN the template
//! makes (the username escaped per RFC 4514) and read the profile from that entry.
//!
//! TLS: `ldaps://` or StartTLS, verified against `ca_file` (else the system's roots); there is
//! no "trust all" setting. Connections are kept (up to `pool_size` idle ones) and re-bound as
//! the service account before each search; every operation has the store's timeout, and so
//! has the whole check. An empty password is never sent (an LDAP bind with an empty password
//! is an unauthenticated bind, which many servers accept).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use gatehouse_core::external_users::{
    escape_ldap_dn, escape_ldap_filter, ExternalUserStore, ExternalVerdict, Outage, Profile,
};
use gatehouse_core::user::Username;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use secrecy::{ExposeSecret, SecretString};

use super::config::{AttributeOptions, LdapLookup, LdapSettings};
use super::tls_roots;

/// LDAP result codes (RFC 4511 §A.1) that say the credentials, or the account, are refused.
const REFUSED: [u32; 4] = [
    49, // invalidCredentials
    48, // inappropriateAuthentication
    50, // insufficientAccessRights (AD: account restrictions)
    19, // constraintViolation (ppolicy: locked, expired)
];

/// An LDAP directory.
pub(crate) struct LdapStore {
    name: String,
    migrate: bool,
    timeout: Duration,
    settings: LdapSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
    idle: Mutex<Vec<Ldap>>,
}

impl LdapStore {
    /// A store named `name`; nothing is connected until the first login.
    pub(crate) fn new(
        name: &str,
        migrate: bool,
        timeout: Duration,
        settings: LdapSettings,
    ) -> Result<Self> {
        let tls = if settings.plain {
            None
        } else {
            let roots = tls_roots(settings.ca_file.as_deref())?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .context("TLS versions")?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(Arc::new(config))
        };
        Ok(LdapStore {
            name: name.to_owned(),
            migrate,
            timeout,
            settings,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn connect(&self) -> Result<Ldap, LdapError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.settings.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.settings.url).await?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Ldap>> {
        // Holds only connection handles: a panic elsewhere leaves nothing half-changed.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A kept connection, or a new one.
    async fn checkout(&self) -> Result<Ldap, LdapError> {
        loop {
            let kept = self.idle().pop();
            match kept {
                Some(mut ldap) => {
                    if !ldap.is_closed() {
                        return Ok(ldap);
                    }
                }
                None => return self.connect().await,
            }
        }
    }

    fn checkin(&self, ldap: Ldap) {
        let mut idle = self.idle();
        if idle.len() < self.settings.pool_size {
            idle.push(ldap);
        }
    }

    /// The check on one connection; an `Err` is an outage (the connection is dropped).
    async fn check_on(
        &self,
        ldap: &mut Ldap,
        username: &Username,
        password: &str,
    ) -> Result<ExternalVerdict, LdapError> {
        let attrs = wanted(&self.settings.attributes);
        let dn = match &self.settings.lookup {
            LdapLookup::Search {
                bind_dn,
                bind_password,
                base_dn,
                filter,
            } => {
                ldap.with_timeout(self.timeout)
                    .simple_bind(bind_dn, bind_password.expose_secret())
                    .await?
                    .success()?;
                let filter = filter.replace("{username}", &escape_ldap_filter(username.as_str()));
                let (entries, _) = ldap
                    .with_timeout(self.timeout)
                    .search(base_dn, Scope::Subtree, &filter, &attrs)
                    .await?
                    .success()?;
                let mut entries = entries.into_iter();
                let (Some(entry), None) = (entries.next(), entries.next()) else {
                    // None, or several: nobody to bind as (an ambiguous filter is logged).
                    return Ok(ExternalVerdict::Unknown);
                };
                let Some(entry) = construct(entry) else {
                    return Ok(ExternalVerdict::Unknown);
                };
                let refused = bind_user(ldap, &entry.dn, password, self.timeout).await?;
                if refused {
                    return Ok(ExternalVerdict::WrongPassword);
                }
                return Ok(ExternalVerdict::Valid(profile(
                    &entry,
                    &self.settings.attributes,
                )));
            }
            LdapLookup::Direct { template } => {
                template.replace("{username}", &escape_ldap_dn(username.as_str()))
            }
        };
        // Direct bind: a refused bind cannot tell an unknown user from a wrong password.
        if bind_user(ldap, &dn, password, self.timeout).await? {
            return Ok(ExternalVerdict::Unknown);
        }
        let (entries, _) = ldap
            .with_timeout(self.timeout)
            .search(&dn, Scope::Base, "(objectClass=*)", &attrs)
            .await?
            .success()?;
        let entry = entries.into_iter().next().and_then(construct);
        let profile = entry
            .map(|e| profile(&e, &self.settings.attributes))
            .unwrap_or_default();
        Ok(ExternalVerdict::Valid(profile))
    }
}

#[async_trait]
impl ExternalUserStore for LdapStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn migrates(&self) -> bool {
        self.migrate
    }

    async fn check(
        &self,
        username: &Username,
        password: &SecretString,
    ) -> Result<ExternalVerdict, Outage> {
        let password = password.expose_secret();
        if password.is_empty() {
            return Ok(ExternalVerdict::Unknown);
        }
        let work = async {
            let mut ldap = self.checkout().await?;
            let verdict = self.check_on(&mut ldap, username, password).await?;
            self.checkin(ldap);
            Ok::<_, LdapError>(verdict)
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(verdict)) => Ok(verdict),
            // Never the password: ldap3's errors carry result codes and server text only.
            Ok(Err(err)) => Err(Outage(format!("LDAP: {err}"))),
            Err(_) => Err(Outage(format!(
                "LDAP: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

/// Binds as `dn`; `Ok(true)` when the server refuses the credentials or the account.
async fn bind_user(
    ldap: &mut Ldap,
    dn: &str,
    password: &str,
    timeout: Duration,
) -> Result<bool, LdapError> {
    let result = ldap.with_timeout(timeout).simple_bind(dn, password).await?;
    if REFUSED.contains(&result.rc) || (result.rc == 32 && !dn.is_empty()) {
        // 32 (noSuchObject): a direct bind to a DN that does not exist.
        return Ok(true);
    }
    result.success().map(|_| false)
}

/// The attributes asked for: the mapped ones, or none (`1.1`, RFC 4511 §4.5.1.8).
fn wanted(map: &AttributeOptions) -> Vec<String> {
    let names: Vec<String> = [&map.email, &map.phone, &map.name, &map.roles]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if names.is_empty() {
        vec!["1.1".to_owned()]
    } else {
        names
    }
}

/// The entry, or `None` when the server sent one ldap3 cannot read (it would panic).
fn construct(entry: ldap3::ResultEntry) -> Option<SearchEntry> {
    let work = std::panic::AssertUnwindSafe(|| SearchEntry::construct(entry));
    std::panic::catch_unwind(work).ok()
}

/// The profile the mapped attributes give.
fn profile(entry: &SearchEntry, map: &AttributeOptions) -> Profile {
    let first = |name: &Option<String>| {
        let name = name.as_deref()?;
        attribute(entry, name).and_then(|v| v.first().cloned())
    };
    let roles = map
        .roles
        .as_deref()
        .and_then(|name| attribute(entry, name))
        .cloned()
        .unwrap_or_default();
    Profile {
        email: first(&map.email),
        phone: first(&map.phone),
        name: first(&map.name),
        roles,
    }
}

/// An attribute's values, its name compared without regard to case (as LDAP does).
fn attribute<'e>(entry: &'e SearchEntry, name: &str) -> Option<&'e Vec<String>> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}
