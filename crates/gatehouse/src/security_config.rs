//! The `serve` options of the brute-force defence, the per-address throttle, trusted proxies and
//! audit-event retention (declared once, as in `options.rs`: flag, variable, and key of the
//! file's `[brute_force]` and `[security]` tables), and their validated settings over the
//! defaults (Keycloak's lockout numbers, Auth0's throttle numbers, 90 days of events).

use anyhow::Result;
use clap::Args;
use gatehouse_core::lockout::LockoutPolicy;
use gatehouse_core::throttle::{ThrottlePolicy, DEFAULT_IPV6_PREFIX, MIN_IPV6_PREFIX};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Days of audit events kept by default.
pub(crate) const DEFAULT_EVENT_RETENTION_DAYS: u32 = 90;

/// Per-account brute-force detection, the file's `[brute_force]` table.
#[derive(Args, Clone, Default, Deserialize, Serialize)]
pub(crate) struct BruteForceOptions {
    /// Per-account brute-force detection: on or off [default: on]
    #[arg(
        long = "brute-force",
        env = "GATEHOUSE_BRUTE_FORCE",
        value_name = "on|off",
        value_parser = on_off
    )]
    pub(crate) enabled: Option<bool>,
    /// Failed logins that lock an account, and each further multiple [default: 30]
    #[arg(
        long = "brute-force-threshold",
        env = "GATEHOUSE_BRUTE_FORCE_THRESHOLD",
        value_name = "N"
    )]
    pub(crate) threshold: Option<u32>,
    /// Seconds of the first lockout, added again at each further multiple [default: 60]
    #[arg(
        long = "brute-force-wait",
        env = "GATEHOUSE_BRUTE_FORCE_WAIT",
        value_name = "SECS"
    )]
    pub(crate) wait: Option<u32>,
    /// Longest lockout in seconds [default: 900]
    #[arg(
        long = "brute-force-max-wait",
        env = "GATEHOUSE_BRUTE_FORCE_MAX_WAIT",
        value_name = "SECS"
    )]
    pub(crate) max_wait: Option<u32>,
    /// Seconds without a failure after which the count is forgotten [default: 43200]
    #[arg(
        long = "brute-force-reset",
        env = "GATEHOUSE_BRUTE_FORCE_RESET",
        value_name = "SECS"
    )]
    pub(crate) reset: Option<u32>,
}

/// The per-address throttle, trusted proxies and event retention, the file's `[security]` table.
#[derive(Args, Clone, Default, Deserialize, Serialize)]
pub(crate) struct SecurityOptions {
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
    /// IPv6 prefix length (32 to 128) whose addresses share one throttle bucket [default: 64]
    #[arg(long, env = "GATEHOUSE_THROTTLE_IPV6_PREFIX", value_name = "BITS")]
    pub(crate) throttle_ipv6_prefix: Option<u8>,
    /// Proxies whose X-Forwarded-For is believed, comma-separated CIDRs [default: none]
    #[arg(
        long,
        env = "GATEHOUSE_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "CIDRS"
    )]
    pub(crate) trusted_proxies: Option<Vec<IpNet>>,
    /// Days audit events are kept [default: 90]
    #[arg(
        long = "event-retention",
        env = "GATEHOUSE_EVENT_RETENTION",
        value_name = "DAYS"
    )]
    pub(crate) event_retention_days: Option<u32>,
    /// Seconds in which a throttled address (or user) gets at most one aggregated event
    /// [default: 3600]
    #[arg(long, env = "GATEHOUSE_REJECTED_EVENT_WINDOW", value_name = "SECS")]
    pub(crate) rejected_event_window: Option<u32>,
}

/// The validated security settings.
#[derive(Debug, Clone)]
pub(crate) struct SecurityConfig {
    pub(crate) lockout: Option<LockoutPolicy>,
    pub(crate) throttle: Option<ThrottlePolicy>,
    /// The IPv6 prefix length that keys the throttle's buckets.
    pub(crate) throttle_ipv6_prefix: u8,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) event_retention_days: u32,
    /// Seconds of the window of aggregated events of rejected requests.
    pub(crate) rejected_event_window: i64,
}

impl SecurityConfig {
    /// Validates the options (command line over file) and applies the defaults.
    pub(crate) fn from_options(bf: &BruteForceOptions, sec: &SecurityOptions) -> Result<Self> {
        let d = LockoutPolicy::default();
        let secs = |value: Option<u32>, default: i64| value.map_or(default, i64::from);
        let lockout = LockoutPolicy {
            threshold: bf.threshold.unwrap_or(d.threshold),
            wait: secs(bf.wait, d.wait),
            max_wait: secs(bf.max_wait, d.max_wait),
            reset_after: secs(bf.reset, d.reset_after),
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
        let limit = sec.ip_failure_limit.unwrap_or(t.limit);
        let interval = secs(sec.ip_failure_interval, t.interval);
        anyhow::ensure!(
            interval >= 1,
            "ip_failure_interval must be at least 1 second"
        );
        let throttle_ipv6_prefix = sec.throttle_ipv6_prefix.unwrap_or(DEFAULT_IPV6_PREFIX);
        anyhow::ensure!(
            (MIN_IPV6_PREFIX..=128).contains(&throttle_ipv6_prefix),
            "throttle_ipv6_prefix must be between {MIN_IPV6_PREFIX} and 128"
        );
        let event_retention_days = sec
            .event_retention_days
            .unwrap_or(DEFAULT_EVENT_RETENTION_DAYS);
        anyhow::ensure!(
            event_retention_days >= 1,
            "event retention must be at least 1 day"
        );
        let rejected_event_window = secs(
            sec.rejected_event_window,
            gatehouse_core::rejection::DEFAULT_REJECTED_EVENT_WINDOW,
        );
        anyhow::ensure!(
            rejected_event_window >= 1,
            "rejected_event_window must be at least 1 second"
        );
        Ok(SecurityConfig {
            lockout: bf.enabled.unwrap_or(true).then_some(lockout),
            throttle: (limit > 0).then_some(ThrottlePolicy {
                limit,
                interval,
                allowlist: sec.ip_allowlist.clone().unwrap_or_default(),
            }),
            throttle_ipv6_prefix,
            trusted_proxies: sec.trusted_proxies.clone().unwrap_or_default(),
            event_retention_days,
            rejected_event_window,
        })
    }
}

/// `on` or `off`, for `--brute-force`.
fn on_off(raw: &str) -> Result<bool, String> {
    match raw {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("must be on or off, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_on_with_keycloak_and_auth0_numbers() {
        let c = SecurityConfig::from_options(&Default::default(), &Default::default()).unwrap();
        assert_eq!(c.lockout, Some(LockoutPolicy::default()));
        assert_eq!(c.throttle, Some(ThrottlePolicy::default()));
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.event_retention_days, 90);
        assert_eq!(c.throttle_ipv6_prefix, 64);
        assert_eq!(c.rejected_event_window, 3600);
    }

    #[test]
    fn the_ipv6_prefix_is_bounded() {
        let with = |bits| SecurityOptions {
            throttle_ipv6_prefix: Some(bits),
            ..SecurityOptions::default()
        };
        let config = |bits| SecurityConfig::from_options(&Default::default(), &with(bits));
        assert_eq!(config(48).unwrap().throttle_ipv6_prefix, 48);
        assert!(config(128).is_ok());
        assert!(config(31).is_err());
        assert!(config(129).is_err());
    }

    #[test]
    fn off_and_zero_turn_the_defences_off() {
        let bf = BruteForceOptions {
            enabled: Some(false),
            ..BruteForceOptions::default()
        };
        let sec = SecurityOptions {
            ip_failure_limit: Some(0),
            ..SecurityOptions::default()
        };
        let c = SecurityConfig::from_options(&bf, &sec).unwrap();
        assert_eq!((c.lockout, c.throttle), (None, None));
    }
}
