//! What an endpoint is made of, validated: its URL (https, no credentials, and by default not
//! a local address) and its event filter (known kinds, or `*`).

use std::net::IpAddr;

use url::{Host, Url};

use super::address::is_public;
use crate::audit::EventKind;
use crate::error::Error;

/// The longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// The longest description accepted, in bytes.
pub(super) const MAX_DESCRIPTION_LEN: usize = 512;
/// The filter that takes every kind.
pub const ALL_EVENTS: &str = "*";

/// Checks an endpoint URL: `https` (or `http` when private targets are allowed, for a receiver
/// on the same host or network), a host, no user name or password, no fragment; without
/// `allow_private`, a literal address must be public and the host may not be `localhost`.
/// Host names are checked again, on every delivery, against the addresses they resolve to.
pub fn check_url(text: &str, allow_private: bool) -> Result<Url, Error> {
    if text.len() > MAX_URL_LEN {
        return Err(Error::invalid_field(
            "url",
            format!("must be at most {MAX_URL_LEN} bytes"),
        ));
    }
    let url =
        Url::parse(text).map_err(|_| Error::invalid_field("url", "must be an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(Error::invalid_field(
                "url",
                "must be https (http only with --webhook-allow-private)",
            ))
        }
        _ => return Err(Error::invalid_field("url", "must be https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_field(
            "url",
            "must not hold a user name or password (the signature authenticates gatehouse)",
        ));
    }
    if url.fragment().is_some() {
        return Err(Error::invalid_field("url", "must not have a fragment"));
    }
    let private = match url.host() {
        None => return Err(Error::invalid_field("url", "must name a host")),
        Some(Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if private && !allow_private {
        return Err(Error::invalid_field(
            "url",
            "points at a loopback, private or link-local address (allowed only with --webhook-allow-private)",
        ));
    }
    Ok(url)
}

/// Checks an event filter: `*`, or event kinds (see `gatehouse events`), each once.
pub fn check_events(names: &[String]) -> Result<Vec<String>, Error> {
    if names.is_empty() {
        return Err(Error::invalid_field(
            "events",
            "must name at least one event kind, or *",
        ));
    }
    if names.iter().any(|n| n == ALL_EVENTS) {
        if names.len() > 1 {
            return Err(Error::invalid_field("events", "* stands alone"));
        }
        return Ok(vec![ALL_EVENTS.to_owned()]);
    }
    let mut kinds = Vec::with_capacity(names.len());
    for name in names {
        let Some(kind) = EventKind::from_name(name.trim()) else {
            let known: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(Error::invalid_field(
                "events",
                format!(
                    "{} is not an event kind (one of: {}, or *)",
                    crate::error::echo(name),
                    known.join(", ")
                ),
            ));
        };
        if !kinds.contains(&kind.as_str().to_owned()) {
            kinds.push(kind.as_str().to_owned());
        }
    }
    Ok(kinds)
}

/// Checks a description: at most [`MAX_DESCRIPTION_LEN`] bytes, no control characters.
pub(super) fn check_description(text: &str) -> Result<String, Error> {
    if text.len() > MAX_DESCRIPTION_LEN || text.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LEN} bytes without control characters"),
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_public_and_without_credentials() {
        assert!(check_url("https://hooks.example.com/gatehouse?x=1", false).is_ok());
        for bad in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://[::ffff:10.0.0.1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/",
            "https://a.localhost./",
            "https://2130706433/",
            "https://0x7f.1/",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad} must be refused");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(MAX_URL_LEN)), true).is_err());
    }

    #[test]
    fn event_filters_name_known_kinds_or_everything() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            check_events(&names(&["lockout", "login_failure", "lockout"])).unwrap(),
            names(&["lockout", "login_failure"])
        );
        assert_eq!(check_events(&names(&["*"])).unwrap(), names(&["*"]));
        assert!(check_events(&names(&["*", "lockout"])).is_err());
        assert!(check_events(&names(&["nope"])).is_err());
        assert!(check_events(&[]).is_err());
    }
}
