//! Breached and common passwords (NIST SP 800-63B-4 §3.1.1.2: a verifier compares a new
//! password against a blocklist of values known to be commonly used, expected or compromised).
//! [`BreachedPasswords`] is one list; [`BreachCheck`] asks several in order and says which one
//! knew the password. The lists themselves: the common passwords built into the binary, an
//! operator's filter file, and the k-anonymity range API of a Have I Been Pwned-like service.

use std::sync::Arc;

use async_trait::async_trait;

pub mod common;
pub mod filter;

pub use common::CommonPasswords;
pub use filter::{Blocklist, FilterError};

/// Which list knew a password. Shown in events and in the User resource's
/// `password_change_required`; never the password or its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreachSource {
    /// The common passwords built into the binary.
    Common,
    /// The operator's filter file (`--password-blocklist`).
    Blocklist,
    /// The online range API (`--breached-password-api`).
    Online,
}

impl BreachSource {
    /// The wire name: `common`, `blocklist` or `online`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreachSource::Common => "common",
            BreachSource::Blocklist => "blocklist",
            BreachSource::Online => "online",
        }
    }
}

/// One list of breached or common passwords.
#[async_trait]
pub trait BreachedPasswords: Send + Sync {
    /// Whether this list holds `password` (exactly as the user typed it). A list that cannot
    /// answer (an online service that is down) answers `false`: the check fails open, and the
    /// list counts the outage in its metrics.
    async fn contains(&self, password: &str) -> bool;

    /// What this list is, for events.
    fn source(&self) -> BreachSource;
}

/// The lists a password is checked against, in order (cheapest first); empty checks nothing.
#[derive(Clone, Default)]
pub struct BreachCheck {
    lists: Vec<Arc<dyn BreachedPasswords>>,
}

impl BreachCheck {
    /// Checks against `lists`, in order.
    pub fn new(lists: Vec<Arc<dyn BreachedPasswords>>) -> Self {
        BreachCheck { lists }
    }

    /// The first list that holds `password`, if any.
    pub async fn find(&self, password: &str) -> Option<BreachSource> {
        for list in &self.lists {
            if list.contains(password).await {
                return Some(list.source());
            }
        }
        None
    }

    /// Whether there is any list to check against.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

impl std::fmt::Debug for BreachCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sources: Vec<_> = self.lists.iter().map(|l| l.source().as_str()).collect();
        f.debug_struct("BreachCheck")
            .field("lists", &sources)
            .finish()
    }
}
