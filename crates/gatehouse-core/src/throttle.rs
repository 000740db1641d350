//! The per-address throttle against credential stuffing, modelled on Auth0's suspicious-IP
//! throttling: each failed login from an address adds one to a leaky bucket that drains at one
//! failure per `interval` seconds; while the bucket holds `limit` failures, the address gets
//! HTTP 429 with `Retry-After` and no credential is checked. The accounts tried are not locked.
//!
//! The bucket is stored as one number, the time it is empty again (`drained_at`, the "virtual
//! scheduling" form of a leaky bucket): an attempt sets it to `max(drained_at, now) + interval`
//! if the backlog leaves [`ThrottlePolicy::room`], which the store checks and does in one
//! statement before the password is checked; a successful login gives the attempt back.
//!
//! Buckets are keyed by [`source_key`]: an IPv4 address (IPv4-mapped IPv6 included) is its own
//! bucket, an IPv6 address shares its bucket with its whole prefix (`/64` by default), since one
//! subscriber or one cloud instance is given a whole `/64` and can rotate through it at will.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv6Net};

/// The IPv6 prefix length that keys a throttle bucket by default: one `/64`, what a subscriber
/// or an instance is usually given (RFC 6177).
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// The shortest IPv6 prefix accepted; a shorter one would throttle whole providers together.
pub const MIN_IPV6_PREFIX: u8 = 32;

/// The bucket of `ip`: the address itself for IPv4 (and IPv4-mapped IPv6, as IPv4), its
/// network of `ipv6_prefix` bits for IPv6 (`2001:db8:1:2::/64`); the full address at `/128`.
pub fn source_key(ip: IpAddr, ipv6_prefix: u8) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) if ipv6_prefix >= 128 => v6.to_string(),
        IpAddr::V6(v6) => match Ipv6Net::new(v6, ipv6_prefix) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
    }
}

/// The throttle's numbers. `None` where it is held means the throttle is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures an address may have in its bucket.
    pub limit: u32,
    /// Seconds in which the bucket drains one failure.
    pub interval: i64,
    /// Addresses never throttled.
    pub allowlist: Vec<IpNet>,
}

impl Default for ThrottlePolicy {
    /// Auth0's defaults: 100 failures, regained at one per 14.4 minutes (100 per day).
    fn default() -> Self {
        ThrottlePolicy {
            limit: 100,
            interval: 864,
            allowlist: Vec::new(),
        }
    }
}

impl ThrottlePolicy {
    /// Whether `ip` is exempt; an IPv4-mapped address is matched as IPv4.
    pub fn is_allowed(&self, ip: &IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allowlist.iter().any(|net| net.contains(&ip))
    }

    /// The backlog, in seconds, below which an address may try once more: `(limit - 1) *
    /// interval`. One more failure then brings the bucket to at most `limit` failures.
    pub fn room(&self) -> i64 {
        i64::from(self.limit.saturating_sub(1)).saturating_mul(self.interval)
    }

    /// Seconds until an address whose bucket drains at `drained_at` may try again, or `None`
    /// when it may try now: the bucket holds `limit` failures while `drained_at - now` exceeds
    /// `(limit - 1) * interval`.
    pub fn retry_after(&self, drained_at: i64, now: i64) -> Option<u64> {
        let backlog = drained_at.saturating_sub(now);
        let wait = backlog - self.room();
        (wait > 0).then(|| u64::try_from(wait).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    #[test]
    fn the_hundredth_failure_throttles_until_one_drains() {
        let p = ThrottlePolicy::default();
        let mut drained_at = T0;
        for _ in 0..99 {
            drained_at = drained_at.max(T0) + p.interval;
            assert_eq!(p.retry_after(drained_at, T0), None);
        }
        drained_at += p.interval;
        assert_eq!(p.retry_after(drained_at, T0), Some(864));
        assert_eq!(p.retry_after(drained_at, T0 + 863), Some(1));
        assert_eq!(p.retry_after(drained_at, T0 + 864), None);
    }

    #[test]
    fn an_empty_bucket_never_throttles() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.retry_after(0, T0), None);
        assert_eq!(p.retry_after(T0 - 5, T0), None);
    }

    #[test]
    fn the_allowlist_matches_networks() {
        let p = ThrottlePolicy {
            allowlist: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            ..ThrottlePolicy::default()
        };
        assert!(p.is_allowed(&"10.1.2.3".parse().unwrap()));
        assert!(p.is_allowed(&"::1".parse().unwrap()));
        assert!(!p.is_allowed(&"11.0.0.1".parse().unwrap()));
        assert!(p.is_allowed(&"::ffff:10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn ipv6_addresses_share_a_bucket_per_prefix() {
        let key = |ip: &str, prefix| source_key(ip.parse().unwrap(), prefix);
        assert_eq!(key("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3", 64), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1", 64), key("2001:db8:1:2::1", 64));
        assert_eq!(key("2001:db8:1:3::1", 48), key("2001:db8:1:2::1", 48));
        assert_eq!(key("2001:db8::1", 128), "2001:db8::1");
        assert_eq!(key("2001:db8::1", 56), "2001:db8::/56");
    }

    #[test]
    fn ipv4_is_keyed_per_address_mapped_or_not() {
        let key = |ip: &str| source_key(ip.parse().unwrap(), 64);
        assert_eq!(key("198.51.100.7"), "198.51.100.7");
        assert_eq!(key("::ffff:198.51.100.7"), "198.51.100.7");
        assert_ne!(key("198.51.100.7"), key("198.51.100.8"));
    }
}
