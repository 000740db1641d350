//! Aidbox's "secure code flow" for the password grant: `GET /auth/authorize` gives a client
//! that registered a `redirect_uri` a one-time code in the redirect's fragment, and the
//! password request must then carry it. A code is 256 random bits, stored only as its SHA-256,
//! bound to its client, good once, and short-lived (60 s by default).
//!
//! Like RFC 6749 §4.1.2.1, an unknown client or one without a registered redirect URI gets an
//! error, never a redirect, so the endpoint cannot be used as an open redirector.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::client::{Client, ClientId, GrantType};
use crate::clock::Clock;
use crate::error::Error;
use crate::random;
use crate::store::{ClientStore, CodeStore};

/// Default lifetime of a code, in seconds.
pub const DEFAULT_CODE_TTL: i64 = 60;
/// The longest `state` echoed back, in bytes.
pub const MAX_STATE_LEN: usize = 2048;

/// Issues and redeems one-time password codes (kept in `codes`) for clients of `clients`.
pub struct PasswordCodes {
    clients: Arc<dyn ClientStore>,
    codes: Arc<dyn CodeStore>,
    clock: Arc<dyn Clock>,
    ttl: i64,
}

impl PasswordCodes {
    /// Codes living `ttl` seconds.
    pub fn new(
        clients: Arc<dyn ClientStore>,
        codes: Arc<dyn CodeStore>,
        clock: Arc<dyn Clock>,
        ttl: i64,
    ) -> Self {
        PasswordCodes {
            clients,
            codes,
            clock,
            ttl,
        }
    }

    /// Runs `GET /auth/authorize?grant_type=password&client_id=..&state=..`: the `Location` to
    /// redirect to, `{redirect_uri}#code=...&state=...`.
    pub async fn authorize(
        &self,
        grant_type: Option<&str>,
        client_id: Option<&str>,
        state: Option<&str>,
    ) -> Result<String, Error> {
        let client_id = client_id.ok_or(Error::invalid_request("client_id is required"))?;
        match grant_type {
            Some("password") => {}
            Some(_) => return Err(Error::invalid_request("grant_type must be password")),
            None => return Err(Error::invalid_request("grant_type is required")),
        }
        if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(Error::invalid_request(format!(
                "state must be at most {MAX_STATE_LEN} bytes"
            )));
        }
        let unknown = || Error::invalid_request("unknown client_id");
        let id = ClientId::parse(client_id).map_err(|_| unknown())?;
        let client = self.clients.find_client(&id).await?.ok_or_else(unknown)?;
        let Some(redirect_uri) = client.settings.redirect_uri.as_deref() else {
            return Err(Error::UnauthorizedClient(
                "this client has no registered redirect_uri".into(),
            ));
        };
        if !client.allows_grant(GrantType::Password) {
            return Err(Error::UnauthorizedClient(
                "this client may not use the password grant".into(),
            ));
        }
        let code = random::token(32);
        let now = self.clock.now();
        self.codes
            .insert_password_code(&digest(&code), &client.id, now + self.ttl, now)
            .await?;
        Ok(location(redirect_uri, &code, state))
    }

    /// Checks the `code` of a password request: clients with a redirect URI must send a code
    /// issued to them, unused and unexpired; it is spent here. Other clients' requests pass.
    pub async fn redeem(&self, client: &Client, code: Option<&str>) -> Result<(), Error> {
        if client.settings.redirect_uri.is_none() {
            return Ok(());
        }
        let code = code.ok_or(Error::invalid_request(
            "this client must send the code from /auth/authorize",
        ))?;
        let spent = self
            .codes
            .consume_password_code(&digest(code), &client.id, self.clock.now())
            .await?;
        if spent {
            Ok(())
        } else {
            Err(Error::InvalidGrant(
                "the code is invalid, expired, used, or issued to another client".into(),
            ))
        }
    }
}

fn digest(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `{redirect_uri}#code=..&state=..`, `state` form-encoded (the code is base64url already).
fn location(redirect_uri: &str, code: &str, state: Option<&str>) -> String {
    let mut out = format!("{redirect_uri}#code={code}");
    if let Some(state) = state {
        out.push_str("&state=");
        out.push_str(&form_encode(state));
    }
    out
}

fn form_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_carries_code_and_encoded_state_in_the_fragment() {
        assert_eq!(
            location("http://localhost:3449/auth.html", "abc", Some("a b&c=d")),
            "http://localhost:3449/auth.html#code=abc&state=a+b%26c%3Dd"
        );
        assert_eq!(
            location("https://x/cb", "abc", None),
            "https://x/cb#code=abc"
        );
    }

    #[test]
    fn codes_are_stored_as_sha256_hex() {
        assert_eq!(digest("abc").len(), 64);
        assert_ne!(digest("abc"), digest("abd"));
    }
}
