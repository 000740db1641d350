//! The password options (NIST SP 800-63B-4 §3.1.1.2): the policy every password set through
//! this server is held to, and the breached-password lists logins and new passwords are checked
//! against. Global, because `user add` and `user set-password` hold passwords to the same policy
//! as the admin API; in the file they sit at the top level like every global option.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use gatehouse_core::client::BreachedPasswordPolicy;
use gatehouse_core::password_policy::{PasswordPolicy, MAX_HISTORY};
use gatehouse_core::password_rules::PasswordRules;
use serde::{Deserialize, Serialize};

/// Password policy and breached-password lists.
#[derive(Args, Clone, Debug, Default, Deserialize, Serialize)]
#[command(next_help_heading = "Password policy")]
pub(crate) struct PasswordOptions {
    /// Fewest characters (after Unicode NFKC normalisation) of a password that is the only
    /// factor [default: 15]
    #[arg(
        long,
        env = "GATEHOUSE_PASSWORD_MIN_LENGTH",
        global = true,
        value_name = "N"
    )]
    pub(crate) password_min_length: Option<u32>,

    /// Fewest characters of a password set through a client that requires a second factor
    /// [default: 8]
    #[arg(
        long,
        env = "GATEHOUSE_PASSWORD_MIN_LENGTH_MFA",
        global = true,
        value_name = "N"
    )]
    pub(crate) password_min_length_mfa: Option<u32>,

    /// Character classes (lower case, upper case, digits, others) a new password must mix,
    /// for operators bound by older rules; NIST advises none [default: 0]
    #[arg(
        long,
        env = "GATEHOUSE_PASSWORD_REQUIRE_CLASSES",
        global = true,
        value_name = "N"
    )]
    pub(crate) password_require_classes: Option<u8>,

    /// Earlier passwords of a user a new one may not repeat (0 to 24) [default: 0]
    #[arg(
        long,
        env = "GATEHOUSE_PASSWORD_HISTORY",
        global = true,
        value_name = "N"
    )]
    pub(crate) password_history: Option<u32>,

    /// Days after which a password must be changed, for operators bound by older rules; NIST
    /// advises no expiry [default: none]
    #[arg(
        long,
        env = "GATEHOUSE_PASSWORD_MAX_AGE_DAYS",
        global = true,
        value_name = "DAYS"
    )]
    pub(crate) password_max_age_days: Option<u32>,

    /// What a login with a breached or common password does, for clients that set no
    /// breached_password of their own: off, flag or block [default: flag]
    #[arg(
        long,
        env = "GATEHOUSE_BREACHED_PASSWORD_DEFAULT",
        global = true,
        value_name = "POLICY"
    )]
    pub(crate) breached_password_default: Option<String>,

    /// A breached-password filter file made by `gatehouse blocklist build`, checked (memory
    /// mapped) beside the common passwords built in
    #[arg(
        long,
        env = "GATEHOUSE_PASSWORD_BLOCKLIST",
        global = true,
        value_name = "FILE"
    )]
    pub(crate) password_blocklist: Option<PathBuf>,

    /// Base URL of a k-anonymity range API (Have I Been Pwned's `{base}/range/{prefix}`),
    /// asked about every new password and every login's password; off unless given
    #[arg(
        long,
        env = "GATEHOUSE_BREACHED_PASSWORD_API",
        global = true,
        value_name = "URL"
    )]
    pub(crate) breached_password_api: Option<String>,

    /// Milliseconds to wait for the range API before answering without it [default: 1000]
    #[arg(
        long,
        env = "GATEHOUSE_BREACHED_PASSWORD_API_TIMEOUT_MS",
        global = true,
        value_name = "MS"
    )]
    pub(crate) breached_password_api_timeout_ms: Option<u64>,
}

/// The password rules the options describe, validated, with their breached lists in `lists`.
#[derive(Debug, Clone)]
pub(crate) struct PasswordSettings {
    pub(crate) policy: PasswordPolicy,
    pub(crate) breached_default: BreachedPasswordPolicy,
    pub(crate) lists: PasswordOptions,
}

impl PasswordSettings {
    /// Validates the options and applies NIST's defaults.
    pub(crate) fn from_options(o: &PasswordOptions) -> Result<Self> {
        let defaults = PasswordPolicy::default();
        let policy = PasswordPolicy {
            min_length: o.password_min_length.unwrap_or(defaults.min_length),
            min_length_mfa: o.password_min_length_mfa.unwrap_or(defaults.min_length_mfa),
            require_classes: o.password_require_classes.unwrap_or(0),
            history: o.password_history.unwrap_or(0),
            max_age_days: o.password_max_age_days,
        };
        for (name, n) in [
            ("password_min_length", policy.min_length),
            ("password_min_length_mfa", policy.min_length_mfa),
        ] {
            anyhow::ensure!(
                (1..=1024).contains(&n),
                "{name} must be from 1 to 1024, got {n}"
            );
        }
        anyhow::ensure!(
            policy.require_classes <= 4,
            "password_require_classes must be from 0 to 4, got {}",
            policy.require_classes
        );
        anyhow::ensure!(
            policy.history <= MAX_HISTORY,
            "password_history must be from 0 to {MAX_HISTORY}, got {}",
            policy.history
        );
        anyhow::ensure!(
            policy.max_age_days != Some(0),
            "password_max_age_days must be at least 1 (leave it out for no expiry)"
        );
        let breached_default = match o.breached_password_default.as_deref() {
            None => BreachedPasswordPolicy::default(),
            Some(p) => BreachedPasswordPolicy::parse(p).with_context(|| {
                format!("breached_password_default must be off, flag or block, got {p:?}")
            })?,
        };
        Ok(PasswordSettings {
            policy,
            breached_default,
            lists: o.clone(),
        })
    }

    /// The rules, with their breached lists opened (the blocklist file mapped, the range API's
    /// client made); a list that cannot be opened is an error.
    pub(crate) fn rules(&self) -> Result<Arc<PasswordRules>> {
        Ok(Arc::new(PasswordRules {
            policy: self.policy,
            breached: crate::breached::breach_check(&self.lists)?,
            breached_default: self.breached_default,
        }))
    }
}
