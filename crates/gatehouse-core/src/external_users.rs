//! Users who live elsewhere (issue 22): an LDAP / Active Directory directory or an operator's
//! HTTP credential check, asked for users the built-in database does not hold (or holds only as
//! a cached profile). The core has no sockets: the binary implements [`ExternalUserStore`] for
//! each kind and hands an ordered [`ExternalUsers`] to the password grant.
//!
//! The first successful login through a store creates a local user (a stable `sub`, the profile
//! copied, `store` naming where it came from). A store that migrates stores the password as an
//! argon2id hash at that moment, so later logins are local; one that does not keeps the marker
//! [`EXTERNAL_PASSWORD`] in place of a hash and is asked again at every login.
//!
//! Timing: every failed login costs one hash (a dummy one when no local hash was checked), and
//! while stores are configured every failure is held to [`ExternalUsers::failure_floor`], the
//! running mean of what failures that asked a store took (bounded by a maximum), so an unknown
//! user and a wrong password take alike whether a store was asked or not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::clock::Stopwatch;
use crate::user::Username;

/// Stored in place of a password hash for a user whose password is checked by its store at
/// every login (`migrate = false`). No PHC string starts with `!`, so it never verifies.
pub const EXTERNAL_PASSWORD: &str = "!external";

/// The longest store name.
pub const MAX_STORE_NAME_LEN: usize = 64;

/// The default bound on the wait that equalises failures.
pub const DEFAULT_MAX_EQUALISING_WAIT: Duration = Duration::from_secs(2);

/// What a store knows of a user, copied into the local record at each successful login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Groups or roles (LDAP `memberOf`), as the store names them.
    pub roles: Vec<String>,
}

/// A store's answer about a username and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalVerdict {
    /// The password is right; the user's profile.
    Valid(Profile),
    /// The user lives in this store but the password is wrong: no later store is asked.
    WrongPassword,
    /// The store does not know the user (or cannot tell it from a wrong password): the next
    /// store is asked.
    Unknown,
}

/// A store could not answer (unreachable, timed out, a malformed answer, its breaker open).
/// The text is for the log only: it never reaches a response.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Outage(pub String);

/// One external store of users.
#[async_trait]
pub trait ExternalUserStore: Send + Sync {
    /// The operator's name for the store (events, `user list --store`).
    fn name(&self) -> &str;

    /// Whether a successful login stores the password locally (lazy migration).
    fn migrates(&self) -> bool;

    /// Checks `password` for `username`. Must never log the password.
    async fn check(
        &self,
        username: &Username,
        password: &SecretString,
    ) -> Result<ExternalVerdict, Outage>;
}

/// The configured stores, in the order they are asked, and the equalising wait.
pub struct ExternalUsers {
    stores: Vec<Arc<dyn ExternalUserStore>>,
    max_wait: Duration,
    /// The running mean, in microseconds, of failed logins that asked a store.
    expected_micros: AtomicU64,
}

impl Default for ExternalUsers {
    fn default() -> Self {
        Self::new(Vec::new(), DEFAULT_MAX_EQUALISING_WAIT)
    }
}

impl ExternalUsers {
    /// `stores` asked in this order; failures held at most `max_wait`.
    pub fn new(stores: Vec<Arc<dyn ExternalUserStore>>, max_wait: Duration) -> Self {
        ExternalUsers {
            stores,
            max_wait,
            expected_micros: AtomicU64::new(0),
        }
    }

    /// Whether no store is configured (today's behaviour: the database alone).
    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// The stores, in order.
    pub fn stores(&self) -> &[Arc<dyn ExternalUserStore>] {
        &self.stores
    }

    /// The store named `name`, if configured.
    pub fn store(&self, name: &str) -> Option<&Arc<dyn ExternalUserStore>> {
        self.stores.iter().find(|s| s.name() == name)
    }

    /// Records how long a failed login that asked a store took.
    pub fn observe(&self, took: Duration) {
        let took = u64::try_from(took.min(self.max_wait).as_micros()).unwrap_or(u64::MAX);
        // Races between concurrent updates only lose an observation: a mean, not a count.
        let old = self.expected_micros.load(Ordering::Relaxed);
        let new = if old == 0 {
            took
        } else {
            (old.saturating_mul(7).saturating_add(took)) / 8
        };
        self.expected_micros.store(new, Ordering::Relaxed);
    }

    /// How long every failed login is held while stores are configured.
    pub fn failure_floor(&self) -> Duration {
        Duration::from_micros(self.expected_micros.load(Ordering::Relaxed)).min(self.max_wait)
    }

    /// Waits until a failed login that started at `watch` has taken the failure floor.
    pub async fn equalise(&self, watch: Stopwatch) {
        if self.is_empty() {
            return;
        }
        let floor = self.failure_floor();
        let took = watch.elapsed();
        if took < floor {
            tokio::time::sleep(floor - took).await;
        }
    }
}

/// Escapes `value` for an LDAP search filter (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL (and
/// every byte outside printable ASCII) become `\XX`, so a username can only ever be a value.
pub fn escape_ldap_filter(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'*' | b'(' | b')' | b'\\' | 0 | 0x80..=0xff | 0..=0x1f | 0x7f => {
                out.push_str(&format!("\\{b:02x}"))
            }
            _ => out.push(char::from(b)),
        }
    }
    out
}

/// Escapes `value` for a DN attribute value (RFC 4514 §2.4), for direct-bind DN templates.
pub fn escape_ldap_dn(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.len().saturating_sub(1);
    for (i, c) in value.char_indices() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4515 §3: the special characters of a filter value are escaped as `\XX`.
    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(escape_ldap_filter("alice"), "alice");
        assert_eq!(escape_ldap_filter("*"), "\\2a");
        assert_eq!(escape_ldap_filter("a)(uid=*"), "a\\29\\28uid=\\2a");
        assert_eq!(escape_ldap_filter("a\\b\0"), "a\\5cb\\00");
        assert_eq!(escape_ldap_filter("é"), "\\c3\\a9");
    }

    /// RFC 4514 §2.4.
    #[test]
    fn dn_values_are_escaped() {
        assert_eq!(escape_ldap_dn("alice"), "alice");
        assert_eq!(escape_ldap_dn("a,b=c"), "a\\,b\\=c");
        assert_eq!(escape_ldap_dn(" #x "), "\\ #x\\ ");
        assert_eq!(escape_ldap_dn("#x"), "\\#x");
    }

    #[test]
    fn the_floor_follows_failures_and_is_bounded() {
        let users = ExternalUsers::new(Vec::new(), Duration::from_millis(100));
        assert_eq!(users.failure_floor(), Duration::ZERO);
        users.observe(Duration::from_millis(40));
        assert_eq!(users.failure_floor(), Duration::from_millis(40));
        users.observe(Duration::from_secs(60));
        assert!(users.failure_floor() <= Duration::from_millis(100));
    }
}
