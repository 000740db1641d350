//! The client address and request id of a request, as a [`RequestContext`] for the core. The
//! address is the TCP peer's, unless the peer is a trusted proxy ([`TrustedProxies`], added to
//! the router as an `Extension` by the server): then it is the right-most `X-Forwarded-For`
//! entry that is not itself a trusted proxy. A client's `auth0-forwarded-for` header is passed
//! on as `forwarded_for`; the core honours it only for a client whose settings allow it, in a
//! request that proved the client with a secret or an assertion.
//!
//! Every address is made canonical here, once, before it is matched or kept: an IPv4-mapped
//! IPv6 address (`::ffff:192.0.2.1`, how a dual-stack `[::]` listener sees IPv4 peers) becomes
//! the IPv4 address, so IPv4 entries of `--trusted-proxies` and `--ip-allowlist` match it and
//! events record it as IPv4.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use gatehouse_core::audit::RequestContext;
use gatehouse_core::store::MAX_USER_AGENT_LEN;
use ipnet::IpNet;

use crate::error::ApiError;

/// Networks whose `X-Forwarded-For` is believed (`--trusted-proxies`); empty by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client address of a request from `peer` with these headers.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.contains(&peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            match parse_ip(hop) {
                Some(ip) if self.contains(&ip) => continue,
                Some(ip) => return Some(ip),
                // A garbled entry: nothing left of it can be trusted; blame the last proxy.
                None => return Some(peer),
            }
        }
        Some(peer)
    }
}

/// The request's context, for the core.
pub struct Context(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        // `axum::Extension(TrustedProxies)` on the router puts it here.
        let proxies = parts
            .extensions
            .get::<TrustedProxies>()
            .cloned()
            .unwrap_or_default();
        let headers = &parts.headers;
        Ok(Context(RequestContext {
            ip: proxies.client_address(peer, headers),
            forwarded_for: headers
                .get("auth0-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_ip(v.trim())),
            request_id: Some(request_id(headers)),
            user_agent: user_agent(headers),
        }))
    }
}

/// The `User-Agent` header as text, cut to [`MAX_USER_AGENT_LEN`] bytes (on a character
/// boundary); `None` when absent, empty or not visible ASCII and spaces.
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let raw = headers
        .get(axum::http::header::USER_AGENT)?
        .to_str()
        .ok()?
        .trim();
    if raw.is_empty() {
        return None;
    }
    let mut end = raw.len().min(MAX_USER_AGENT_LEN);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    Some(raw[..end].to_owned())
}

/// `X-Request-Id` when it is a short token, else a new random id.
fn request_id(headers: &HeaderMap) -> String {
    let sent = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    match sent {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            id.to_owned()
        }
        _ => gatehouse_core::random::id(),
    }
}

/// An address, bare or as `ip:port` / `[v6]:port`, canonical (IPv4-mapped IPv6 as IPv4).
fn parse_ip(raw: &str) -> Option<IpAddr> {
    raw.parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn an_untrusted_peer_is_the_client() {
        let p = TrustedProxies::default();
        let peer = "203.0.113.9".parse().ok();
        assert_eq!(p.client_address(peer, &headers("1.2.3.4")), peer);
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let p = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let peer = "10.0.0.1".parse().ok();
        let got = p.client_address(peer, &headers("6.6.6.6, 198.51.100.7, 10.0.0.2"));
        assert_eq!(got, "198.51.100.7".parse().ok());
        assert_eq!(p.client_address(peer, &HeaderMap::new()), peer);
    }

    /// A dual-stack listener sees an IPv4 proxy as `::ffff:10.0.0.1`: it still matches the
    /// IPv4 entry, and mapped addresses in the header come out as IPv4.
    #[test]
    fn ipv4_mapped_addresses_are_matched_and_kept_as_ipv4() {
        let p = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let mapped = "::ffff:10.0.0.1".parse().ok();
        let got = p.client_address(mapped, &headers("::ffff:198.51.100.7, ::ffff:10.0.0.2"));
        assert_eq!(got, "198.51.100.7".parse().ok());
        let untrusted = "::ffff:203.0.113.9".parse().ok();
        let got = p.client_address(untrusted, &headers("1.2.3.4"));
        assert_eq!(got, "203.0.113.9".parse().ok());
        assert_eq!(parse_ip("[::ffff:192.0.2.1]:443"), "192.0.2.1".parse().ok());
        assert_eq!(parse_ip("2001:db8::1"), "2001:db8::1".parse().ok());
    }
}
