//! [`PasswordRules`]: everything a new password is held to (the [`PasswordPolicy`], the
//! breached lists, the user's history) and what a login does with a password found on a
//! breached list or past its maximum age. Shared by the admin service (the API and the CLI),
//! the self-service change and the password grant.

use crate::breached::{BreachCheck, BreachSource};
use crate::client::{BreachedPasswordPolicy, ClientSettings};
use crate::error::Error;
use crate::password::PasswordHasher;
use crate::password_policy::{normalize, PasswordContext, PasswordPolicy, PolicyViolation};
use crate::user::User;

/// Seconds in a day, for the maximum age.
const DAY: i64 = 86_400;

/// The policy, the breached lists and the server's breached-password default.
#[derive(Debug, Clone, Default)]
pub struct PasswordRules {
    /// The policy of every new password.
    pub policy: PasswordPolicy,
    /// The lists of breached and common passwords.
    pub breached: BreachCheck,
    /// What a login with a breached password does, for clients that set nothing.
    pub breached_default: BreachedPasswordPolicy,
}

/// What a login found wrong with a right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFinding {
    /// On a breached list.
    Breached(BreachSource),
    /// Older than the maximum age.
    Expired,
}

impl LoginFinding {
    /// The value of the user's `password_change_required`.
    pub fn reason(self) -> String {
        match self {
            LoginFinding::Breached(source) => format!("breached:{}", source.as_str()),
            LoginFinding::Expired => "expired".to_owned(),
        }
    }

    /// The finding a stored `password_change_required` records ([`LoginFinding::reason`] read
    /// back).
    pub fn from_reason(reason: &str) -> Option<Self> {
        if reason == "expired" {
            return Some(LoginFinding::Expired);
        }
        let list = reason.strip_prefix("breached:")?;
        [
            BreachSource::Common,
            BreachSource::Blocklist,
            BreachSource::Online,
        ]
        .into_iter()
        .find(|s| s.as_str() == list)
        .map(LoginFinding::Breached)
    }
}

impl PasswordRules {
    /// What a login with a breached password does for a client with `settings` (the server's
    /// default without a client).
    pub fn breached_mode(&self, settings: Option<&ClientSettings>) -> BreachedPasswordPolicy {
        settings
            .and_then(|s| s.breached_password)
            .unwrap_or(self.breached_default)
    }

    /// Checks a new password, as typed: the policy on its normalised form, the breached lists
    /// (unless the client, or the server without one, has them off), and the user's
    /// `previous` hashes (the current one first) up to the history's length. The first rule it
    /// fails is an [`Error::InvalidPassword`]; `Overloaded` when the hash pool sheds a history
    /// check.
    pub async fn check_new(
        &self,
        hasher: &PasswordHasher,
        typed: &str,
        ctx: &PasswordContext<'_>,
        previous: &[String],
    ) -> Result<(), Error> {
        let normal = normalize(typed);
        self.policy.check(&normal, ctx).map_err(invalid)?;
        let mode = self.breached_mode(ctx.client.map(|(_, s)| s));
        if mode != BreachedPasswordPolicy::Off {
            if let Some(source) = self.find_breached(typed).await {
                return Err(invalid(PolicyViolation::new(
                    "breached",
                    format!(
                        "the password is in a list of breached or common passwords ({})",
                        source.as_str()
                    ),
                )));
            }
        }
        let keep = self.policy.history as usize;
        for hash in previous.iter().take(keep) {
            if hasher.verify(normal.as_bytes(), Some(hash)).await? {
                return Err(invalid(PolicyViolation::new(
                    "history",
                    format!("the password must differ from the last {keep} passwords"),
                )));
            }
        }
        Ok(())
    }

    /// The list that holds `typed` (or its normalised form, when that differs), if any.
    pub async fn find_breached(&self, typed: &str) -> Option<BreachSource> {
        if let Some(found) = self.breached.find(typed).await {
            return Some(found);
        }
        let normal = normalize(typed);
        if normal != typed {
            return self.breached.find(&normal).await;
        }
        None
    }

    /// The earlier hashes to keep once `user`'s password is replaced: the replaced one first,
    /// then `history` (theirs, newest first), as many as the history's length.
    pub fn next_history(&self, user: &User, history: Vec<String>) -> Vec<String> {
        let keep = self.policy.history as usize;
        std::iter::once(user.password_hash.clone())
            .chain(history)
            .take(keep)
            .collect()
    }

    /// Whether `user`'s password is older than the maximum age at `now`.
    pub fn expired(&self, user: &User, now: i64) -> bool {
        self.policy
            .max_age_days
            .is_some_and(|days| now - user.password_changed_at > i64::from(days) * DAY)
    }

    /// What a login with `user`'s (right) password `typed` finds wrong with it for a client
    /// with `settings`: what is already on record first (no list is asked again), then the
    /// breached lists unless the client has them off, then the maximum age.
    pub async fn at_login(
        &self,
        settings: &ClientSettings,
        user: &User,
        typed: &str,
        now: i64,
    ) -> Option<LoginFinding> {
        let mode = self.breached_mode(Some(settings));
        if let Some(recorded) = user.password_change_required.as_deref() {
            return match LoginFinding::from_reason(recorded) {
                Some(LoginFinding::Breached(_)) if mode == BreachedPasswordPolicy::Off => None,
                // A mark this version does not know still asks for a change.
                found => Some(found.unwrap_or(LoginFinding::Expired)),
            };
        }
        if mode != BreachedPasswordPolicy::Off {
            if let Some(source) = self.find_breached(typed).await {
                return Some(LoginFinding::Breached(source));
            }
        }
        self.expired(user, now).then_some(LoginFinding::Expired)
    }
}

fn invalid(v: PolicyViolation) -> Error {
    Error::InvalidPassword {
        rule: v.rule,
        description: v.description.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored mark reads back as the finding that wrote it.
    #[test]
    fn a_recorded_reason_reads_back_as_its_finding() {
        for finding in [
            LoginFinding::Breached(BreachSource::Common),
            LoginFinding::Breached(BreachSource::Blocklist),
            LoginFinding::Breached(BreachSource::Online),
            LoginFinding::Expired,
        ] {
            assert_eq!(LoginFinding::from_reason(&finding.reason()), Some(finding));
        }
        assert_eq!(LoginFinding::from_reason("breached:elsewhere"), None);
        assert_eq!(LoginFinding::from_reason(""), None);
    }
}
