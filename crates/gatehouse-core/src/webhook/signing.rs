//! The Standard Webhooks signature scheme (symmetric, `v1`): a `whsec_` secret of 24 to 64
//! random bytes in base64, and `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `{webhook-id}.{webhook-timestamp}.{body}`.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

use crate::error::Error;

/// The prefix of a serialized secret.
pub(super) const SECRET_PREFIX: &str = "whsec_";
/// The fewest secret bytes the specification allows.
pub(super) const MIN_SECRET_BYTES: usize = 24;
/// The most secret bytes the specification allows.
pub(super) const MAX_SECRET_BYTES: usize = 64;
/// How many bytes a generated secret has.
const GENERATED_SECRET_BYTES: usize = 32;

/// An endpoint's signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        WebhookSecret(bytes)
    }

    /// Reads `whsec_<base64>` (padded or not) of 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let Some(encoded) = text.strip_prefix(SECRET_PREFIX) else {
            return Err(Error::invalid_field("secret", "must start with whsec_"));
        };
        let bytes = STANDARD
            .decode(encoded)
            .or_else(|_| STANDARD_NO_PAD.decode(encoded))
            .map_err(|_| Error::invalid_field("secret", "must be whsec_ and base64"))?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(Error::invalid_field(
                "secret",
                format!("must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes"),
            ));
        }
        Ok(WebhookSecret(bytes))
    }

    /// The raw bytes, for sealing.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// From raw bytes, as unsealed.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(Error::Internal(
                "a stored webhook secret has a wrong length".into(),
            ));
        }
        Ok(WebhookSecret(bytes))
    }

    /// `whsec_<base64>`, as shown once to whoever made it.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` value for message `msg_id` sent at `timestamp` (Unix seconds).
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &str) -> String {
        // HMAC accepts a key of any length.
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_specification_example_does() {
        // The reference libraries' shared test vector.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn round_trips_and_refuses_short_or_foreign_secrets() {
        let secret = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&secret.to_text()).unwrap(), secret);
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
        let unpadded = format!("whsec_{}", STANDARD_NO_PAD.encode([7u8; 25]));
        assert_eq!(
            WebhookSecret::parse(&unpadded).unwrap().as_bytes(),
            &[7u8; 25]
        );
    }
}
