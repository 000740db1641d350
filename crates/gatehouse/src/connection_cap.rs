//! The per-address connection cap (`--max-connections-per-address`): how many connections one
//! client address may hold open at once, so that one host cannot take every slot of
//! `--max-connections` for itself.
//!
//! Addresses are canonical before they are counted: an IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`, as a dual-stack listener sees IPv4 peers) counts as the IPv4 address, and
//! IPv6 addresses are counted by their /64, the smallest network a single host is usually given.
//! Peers in `--trusted-proxies` are exempt: a load balancer carries everyone's connections.
//!
//! A connection over the cap is accepted and closed at once (the global cap, by contrast, makes
//! connections wait in the listen backlog): a waiting connection would still be one the address
//! holds, and the point is that this address gets no more.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use ipnet::IpNet;

/// Connections one address may hold open at once by default.
pub(crate) const DEFAULT_MAX_PER_ADDRESS: u32 = 64;

/// Open connections per canonical client address.
#[derive(Debug)]
pub(crate) struct AddressCap {
    /// The most connections per address; 0 turns the cap off.
    max: u32,
    /// Peers never capped (`--trusted-proxies`).
    exempt: Vec<IpNet>,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One connection's place in its address's count, given back when dropped.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    held: Option<(Arc<AddressCap>, IpAddr)>,
}

impl AddressCap {
    /// A cap of `max` connections per address (0: off), not applied to `exempt` peers.
    pub(crate) fn new(max: u32, exempt: Vec<IpNet>) -> Arc<Self> {
        Arc::new(AddressCap {
            max,
            exempt,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a place for a new connection from `peer`, or `None` when the address already
    /// holds the most it may.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<AddressSlot> {
        let peer = peer.to_canonical();
        if self.max == 0 || self.exempt.iter().any(|net| net.contains(&peer)) {
            return Some(AddressSlot { held: None });
        }
        let key = bucket(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            held: Some((self.clone(), key)),
        })
    }

    /// Connections counted for `peer`'s address now.
    #[cfg(test)]
    fn open_from(&self, peer: IpAddr) -> u32 {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&bucket(peer.to_canonical())).copied().unwrap_or(0)
    }

    fn release(&self, key: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&key) {
            *count = count.saturating_sub(1);
            // Forget addresses with no connection, so the map holds only open ones.
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some((cap, key)) = self.held.take() {
            cap.release(key);
        }
    }
}

/// The key an address is counted under: IPv4 as it is, IPv6 by its /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_gets_at_most_max_connections_and_each_is_given_back_when_dropped() {
        let cap = AddressCap::new(2, vec![]);
        let a = cap.admit(ip("192.0.2.1")).unwrap();
        let b = cap.admit(ip("192.0.2.1")).unwrap();
        assert!(cap.admit(ip("192.0.2.1")).is_none());
        // Another address is counted apart.
        let _other = cap.admit(ip("192.0.2.2")).unwrap();
        drop(a);
        assert_eq!(cap.open_from(ip("192.0.2.1")), 1);
        let _c = cap.admit(ip("192.0.2.1")).unwrap();
        drop(b);
        drop(_c);
        assert_eq!(cap.open_from(ip("192.0.2.1")), 0);
        assert!(!cap.open.lock().unwrap().contains_key(&ip("192.0.2.1")));
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        let cap = AddressCap::new(1, vec![]);
        let _v4 = cap.admit(ip("192.0.2.1")).unwrap();
        assert!(cap.admit(ip("::ffff:192.0.2.1")).is_none());
    }

    #[test]
    fn ipv6_addresses_are_counted_by_their_64() {
        let cap = AddressCap::new(2, vec![]);
        let _a = cap.admit(ip("2001:db8:1:2::1")).unwrap();
        let _b = cap.admit(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert!(cap.admit(ip("2001:db8:1:2::abcd")).is_none());
        assert!(cap.admit(ip("2001:db8:1:3::1")).is_some());
    }

    #[test]
    fn trusted_proxies_are_exempt_also_when_seen_ipv4_mapped() {
        let cap = AddressCap::new(1, vec!["10.0.0.0/8".parse().unwrap()]);
        let held: Vec<_> = (0..5)
            .map(|_| cap.admit(ip("::ffff:10.0.0.7")).unwrap())
            .collect();
        assert_eq!(held.len(), 5);
        assert_eq!(cap.open_from(ip("10.0.0.7")), 0);
    }

    #[test]
    fn zero_turns_the_cap_off() {
        let cap = AddressCap::new(0, vec![]);
        let held: Vec<_> = (0..100)
            .map(|_| cap.admit(ip("192.0.2.1")).unwrap())
            .collect();
        assert_eq!(held.len(), 100);
    }
}
