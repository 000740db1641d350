//! The password options (NIST SP 800-63B-4 §3.1.1.2): the policy every password set through
//! this server is held to, and the breached-password lists logins and new passwords are checked
//! against. Global, because `user add` and `user set-password` hold passwords to the same policy
//! as the admin API; in the file they sit at the top level like every global option.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

/// Password policy and breached-password lists.
#[derive(Args, Clone, Default, Deserialize, Serialize)]
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
        env = "GATEHOUSE_BREACHED_PASSWORD",
        global = true,
        value_name = "POLICY"
    )]
    pub(crate) breached_password: Option<String>,

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
