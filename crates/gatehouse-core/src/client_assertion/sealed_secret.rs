//! The server's [`SecretSealer`]: `client_secret_jwt` secrets (RFC 7523 §2.2) sealed by
//! [`Sealer`] under the server key, bound to their client, and kept as text (unpadded base64url)
//! in the client's settings.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::SecretString;

use super::SecretSealer;
use crate::client::ClientId;
use crate::error::Error;
use crate::sealing::Sealer;

/// `client_secret_jwt` secrets (RFC 7523 §2.2) sealed under the same server key, bound to their
/// client, and kept as text (unpadded base64url) in the client's settings.
impl SecretSealer for Sealer {
    fn seal(&self, client: &ClientId, secret: &SecretString) -> Result<String, Error> {
        use secrecy::ExposeSecret;
        let sealed = self.seal(
            &jwt_secret_context(client),
            secret.expose_secret().as_bytes(),
        )?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    fn open(&self, client: &ClientId, sealed: &str) -> Result<SecretString, Error> {
        let broken =
            || Error::internal("a sealed client secret does not open under the server key");
        let raw = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| broken())?;
        let plain = self.open(&jwt_secret_context(client), &raw)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| broken())
    }
}

fn jwt_secret_context(client: &ClientId) -> String {
    format!("client-secret-jwt:{client}")
}
