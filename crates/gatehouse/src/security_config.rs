//! The `serve` options of the brute-force defence, the per-address throttle, trusted proxies
//! and audit-event retention: flags (each also read from its `GATEHOUSE_…` variable), then the
//! TOML file's `[brute_force]` and `[security]` tables, then the defaults (Keycloak's lockout
//! numbers, Auth0's throttle numbers, 90 days of events).

use anyhow::Result;
use clap::Args;
use gatehouse_core::lockout::LockoutPolicy;
use gatehouse_core::throttle::ThrottlePolicy;
use ipnet::IpNet;
use serde::Deserialize;

/// Days of audit events kept by default.
pub(crate) const DEFAULT_EVENT_RETENTION_DAYS: u32 = 90;

/// Flags of `serve` for the brute-force defence.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct SecurityArgs {
    /// Per-account brute-force detection: on or off [default: on]
    #[arg(long, env = "GATEHOUSE_BRUTE_FORCE", value_name = "on|off")]
    pub(crate) brute_force: Option<String>,
    /// Failed logins that lock an account, and each further multiple [default: 30]
    #[arg(long, env = "GATEHOUSE_BRUTE_FORCE_THRESHOLD", value_name = "N")]
    pub(crate) brute_force_threshold: Option<u32>,
    /// Seconds of the first lockout, added again at each further multiple [default: 60]
    #[arg(long, env = "GATEHOUSE_BRUTE_FORCE_WAIT", value_name = "SECS")]
    pub(crate) brute_force_wait: Option<u32>,
    /// Longest lockout in seconds [default: 900]
    #[arg(long, env = "GATEHOUSE_BRUTE_FORCE_MAX_WAIT", value_name = "SECS")]
    pub(crate) brute_force_max_wait: Option<u32>,
    /// Seconds without a failure after which the count is forgotten [default: 43200]
    #[arg(long, env = "GATEHOUSE_BRUTE_FORCE_RESET", value_name = "SECS")]
    pub(crate) brute_force_reset: Option<u32>,
    /// Failed logins per client address before it gets 429; 0 turns it off [default: 100]
    #[arg(long, env = "GATEHOUSE_IP_FAILURE_LIMIT", value_name = "N")]
    pub(crate) ip_failure_limit: Option<u32>,
    /// Seconds in which an address regains one failed login [default: 864]
    #[arg(long, env = "GATEHOUSE_IP_FAILURE_INTERVAL", value_name = "SECS")]
    pub(crate) ip_failure_interval: Option<u32>,
    /// Addresses never throttled, comma-separated CIDRs
    #[arg(
        long,
        env = "GATEHOUSE_IP_ALLOWLIST",
        value_delimiter = ',',
        value_name = "CIDRS"
    )]
    pub(crate) ip_allowlist: Option<Vec<IpNet>>,
    /// Proxies whose X-Forwarded-For is believed, comma-separated CIDRs [default: none]
    #[arg(
        long,
        env = "GATEHOUSE_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "CIDRS"
    )]
    pub(crate) trusted_proxies: Option<Vec<IpNet>>,
    /// Days audit events are kept [default: 90]
    #[arg(long, env = "GATEHOUSE_EVENT_RETENTION", value_name = "DAYS")]
    pub(crate) event_retention: Option<u32>,
}

/// The file's `[brute_force]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileBruteForce {
    enabled: Option<bool>,
    threshold: Option<u32>,
    wait: Option<u32>,
    max_wait: Option<u32>,
    reset: Option<u32>,
}

/// The file's `[security]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSecurity {
    ip_failure_limit: Option<u32>,
    ip_failure_interval: Option<u32>,
    ip_allowlist: Option<Vec<IpNet>>,
    trusted_proxies: Option<Vec<IpNet>>,
    event_retention_days: Option<u32>,
}

/// The validated security settings.
#[derive(Debug, Clone)]
pub(crate) struct SecurityConfig {
    pub(crate) lockout: Option<LockoutPolicy>,
    pub(crate) throttle: Option<ThrottlePolicy>,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) event_retention_days: u32,
}

impl SecurityConfig {
    pub(crate) fn load(args: &SecurityArgs, bf: FileBruteForce, sec: FileSecurity) -> Result<Self> {
        let enabled = match args.brute_force.as_deref() {
            None => bf.enabled.unwrap_or(true),
            Some("on") => true,
            Some("off") => false,
            Some(other) => anyhow::bail!("--brute-force must be on or off, got {other:?}"),
        };
        let d = LockoutPolicy::default();
        let secs = |flag: Option<u32>, file: Option<u32>, default: i64| {
            flag.or(file).map_or(default, i64::from)
        };
        let lockout = LockoutPolicy {
            threshold: args
                .brute_force_threshold
                .or(bf.threshold)
                .unwrap_or(d.threshold),
            wait: secs(args.brute_force_wait, bf.wait, d.wait),
            max_wait: secs(args.brute_force_max_wait, bf.max_wait, d.max_wait),
            reset_after: secs(args.brute_force_reset, bf.reset, d.reset_after),
        };
        anyhow::ensure!(
            lockout.threshold >= 1,
            "brute_force threshold must be at least 1"
        );
        anyhow::ensure!(
            lockout.wait >= 1,
            "brute_force wait must be at least 1 second"
        );
        anyhow::ensure!(
            lockout.max_wait >= lockout.wait,
            "brute_force max_wait must be at least the wait"
        );
        let t = ThrottlePolicy::default();
        let limit = args
            .ip_failure_limit
            .or(sec.ip_failure_limit)
            .unwrap_or(t.limit);
        let interval = secs(
            args.ip_failure_interval,
            sec.ip_failure_interval,
            t.interval,
        );
        anyhow::ensure!(
            interval >= 1,
            "ip_failure_interval must be at least 1 second"
        );
        let allowlist = args
            .ip_allowlist
            .clone()
            .or(sec.ip_allowlist)
            .unwrap_or_default();
        let event_retention_days = args
            .event_retention
            .or(sec.event_retention_days)
            .unwrap_or(DEFAULT_EVENT_RETENTION_DAYS);
        anyhow::ensure!(
            event_retention_days >= 1,
            "event retention must be at least 1 day"
        );
        Ok(SecurityConfig {
            lockout: enabled.then_some(lockout),
            throttle: (limit > 0).then_some(ThrottlePolicy {
                limit,
                interval,
                allowlist,
            }),
            trusted_proxies: args
                .trusted_proxies
                .clone()
                .or(sec.trusted_proxies)
                .unwrap_or_default(),
            event_retention_days,
        })
    }
}

/// The login guard `serve` and the CLI share: the configured policies over `store`, recording
/// lockouts in `audit`.
pub(crate) fn guard(
    config: &crate::config::Config,
    store: &std::sync::Arc<dyn gatehouse_core::store::Store>,
    clock: &std::sync::Arc<dyn gatehouse_core::clock::Clock>,
    audit: std::sync::Arc<gatehouse_core::audit::AuditLog>,
) -> gatehouse_core::login_guard::LoginGuard {
    gatehouse_core::login_guard::LoginGuard::new(store.clone(), clock.clone(), audit)
        .with_lockout(config.security.lockout)
        .with_throttle(config.security.throttle.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_on_with_keycloak_and_auth0_numbers() {
        let c = SecurityConfig::load(
            &SecurityArgs::default(),
            Default::default(),
            Default::default(),
        )
        .unwrap();
        assert_eq!(c.lockout, Some(LockoutPolicy::default()));
        assert_eq!(c.throttle, Some(ThrottlePolicy::default()));
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.event_retention_days, 90);
    }

    #[test]
    fn off_and_zero_turn_the_defences_off() {
        let args = SecurityArgs {
            brute_force: Some("off".into()),
            ip_failure_limit: Some(0),
            ..SecurityArgs::default()
        };
        let c = SecurityConfig::load(&args, Default::default(), Default::default()).unwrap();
        assert_eq!((c.lockout, c.throttle), (None, None));
    }
}
