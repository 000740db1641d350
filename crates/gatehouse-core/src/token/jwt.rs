//! JWT access tokens per RFC 9068: `typ: at+jwt`, and the claims `iss`, `sub`, `aud`,
//! `client_id`, `scope`, `iat`, `exp` and `jti`, and the claims the client maps (see
//! [`crate::claims`]); signed with the server's key, or (a per-client
//! legacy option) with HS256 keyed by the client secret. Also signs OpenID Connect id_tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Error;
use crate::sealing::Sealer;
use crate::token::keys::{KeyRing, SigningKey};

pub use crate::token::keys::ACCESS_TOKEN_TYP;

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The user's stable id.
    pub sub: String,
    /// The audience.
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-delimited.
    pub scope: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Unique id.
    pub jti: String,
    /// The client's mapped claims (none of them a registered claim: see
    /// [`crate::claims::mapped_claims`]).
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub mapped: serde_json::Map<String, serde_json::Value>,
}

/// Signs an access token with `key`.
pub fn sign_access_token(key: &SigningKey, claims: &AccessTokenClaims) -> Result<String, Error> {
    key.sign_access_claims(claims)
}

/// Signs an access token with HS256 keyed by the client secret (the legacy per-client option).
pub fn sign_access_token_hs256(secret: &[u8], claims: &AccessTokenClaims) -> Result<String, Error> {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret))
        .map_err(Error::internal)
}

/// The key of a legacy client's HS256 access tokens: its secret, kept sealed by `sealer`.
pub fn hs256_secret(sealer: &Sealer, client: &Client) -> Result<SecretString, Error> {
    let sealed = client
        .secret_sealed
        .as_deref()
        .ok_or_else(|| Error::internal("an HS256 client has no sealed secret"))?;
    let plain = sealer.open(&client.secret_seal_context(), sealed)?;
    String::from_utf8(plain)
        .map(SecretString::from)
        .map_err(|_| Error::internal("a sealed client secret is not UTF-8"))
}

/// Signs an OpenID Connect id_token (`typ: JWT`) with `key`.
pub fn sign_id_token(key: &SigningKey, claims: &serde_json::Value) -> Result<String, Error> {
    key.sign_id_claims(claims)
}

/// Whether a compact JWS names HS256 in its header (unverified): such a token is checked with
/// its client's secret, found through [`unverified_client_id`].
pub fn is_hs256(token: &str) -> bool {
    jsonwebtoken::decode_header(token).is_ok_and(|h| h.alg == Algorithm::HS256)
}

/// The `client_id` claim of a compact JWS, unverified: only used to find the key to verify with.
pub fn unverified_client_id(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("client_id")?.as_str().map(str::to_owned)
}

/// Verifies an HS256 access token keyed by `secret` and issued by `issuer`.
pub fn verify_access_token_hs256(
    secret: &[u8],
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<AccessTokenClaims, Error> {
    if access_token_header(token)?.alg != Algorithm::HS256 {
        return Err(invalid_access_token());
    }
    check_claims(
        token,
        &DecodingKey::from_secret(secret),
        Algorithm::HS256,
        issuer,
        now,
    )
}

/// Verifies an access token signed by a key of `ring` and issued by `issuer`: signature, `typ`,
/// `iss` and `exp` (no leeway). Returns its claims.
pub fn verify_access_token(
    ring: &KeyRing,
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<AccessTokenClaims, Error> {
    let header = access_token_header(token)?;
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| ring.find(kid))
        .ok_or_else(invalid_access_token)?;
    if key.alg.jwt() != header.alg {
        return Err(invalid_access_token());
    }
    check_claims(token, key.decoding_key(), key.alg.jwt(), issuer, now)
}

/// The refusal of every access token that does not verify, whatever the reason.
fn invalid_access_token() -> Error {
    Error::InvalidToken("the access token is invalid".into())
}

/// The header of `token`, when it is an access token's (`typ` of RFC 9068 §2.1).
fn access_token_header(token: &str) -> Result<jsonwebtoken::Header, Error> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid_access_token())?;
    if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
        return Err(invalid_access_token());
    }
    Ok(header)
}

fn check_claims(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    issuer: &str,
    now: i64,
) -> Result<AccessTokenClaims, Error> {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "exp", "sub"]);
    let data = jsonwebtoken::decode::<AccessTokenClaims>(token, key, &validation)
        .map_err(|_| invalid_access_token())?;
    if data.claims.exp <= now {
        return Err(Error::InvalidToken("the access token has expired".into()));
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::keys::{test_sealer, SigningAlg};

    fn ring_of(alg: SigningAlg) -> KeyRing {
        let sealer = test_sealer();
        KeyRing::from_stored(&[SigningKey::generate(alg, 0, &sealer).unwrap()], &sealer).unwrap()
    }

    fn claims(exp: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "http://issuer".into(),
            sub: "u1".into(),
            aud: "c1".into(),
            client_id: "c1".into(),
            scope: "openid".into(),
            iat: 100,
            exp,
            jti: "j1".into(),
            mapped: serde_json::Map::new(),
        }
    }

    #[test]
    fn signed_tokens_verify_with_every_algorithm() {
        for alg in SigningAlg::ALL {
            let ring = ring_of(alg);
            let token = sign_access_token(ring.current(), &claims(200)).unwrap();
            let got = verify_access_token(&ring, "http://issuer", &token, 150).unwrap();
            assert_eq!(got, claims(200));
        }
    }

    #[test]
    fn id_tokens_carry_the_jwt_typ_and_the_key_id_and_verify_with_every_algorithm() {
        for alg in SigningAlg::ALL {
            let ring = ring_of(alg);
            let key = ring.current();
            let claims = serde_json::json!({"iss": "http://issuer", "sub": "u1", "exp": 200});
            let token = sign_id_token(key, &claims).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("JWT"), "{alg:?}");
            assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()), "{alg:?}");
            assert_eq!(header.alg, alg.jwt());
            let mut validation = Validation::new(alg.jwt());
            validation.validate_exp = false;
            validation.validate_aud = false;
            let data =
                jsonwebtoken::decode::<serde_json::Value>(&token, key.decoding_key(), &validation)
                    .unwrap();
            assert_eq!(data.claims, claims);
        }
    }

    #[test]
    fn hs256_tokens_verify_only_with_the_same_secret() {
        let token = sign_access_token_hs256(b"s3cret", &claims(200)).unwrap();
        assert!(is_hs256(&token));
        assert_eq!(unverified_client_id(&token).as_deref(), Some("c1"));
        let got = verify_access_token_hs256(b"s3cret", "http://issuer", &token, 150).unwrap();
        assert_eq!(got, claims(200));
        assert!(verify_access_token_hs256(b"other", "http://issuer", &token, 150).is_err());
        assert!(verify_access_token_hs256(b"s3cret", "http://issuer", &token, 200).is_err());
        let ring = ring_of(SigningAlg::EdDSA);
        assert!(verify_access_token(&ring, "http://issuer", &token, 150).is_err());
    }

    #[test]
    fn expired_foreign_and_tampered_tokens_are_refused() {
        let ring = ring_of(SigningAlg::EdDSA);
        let other = ring_of(SigningAlg::EdDSA);
        let token = sign_access_token(ring.current(), &claims(200)).unwrap();
        assert!(verify_access_token(&ring, "http://issuer", &token, 200).is_err());
        assert!(verify_access_token(&other, "http://issuer", &token, 150).is_err());
        assert!(verify_access_token(&ring, "http://elsewhere", &token, 150).is_err());
        let mut tampered = token.clone();
        tampered.insert(tampered.len() - 2, 'A');
        assert!(verify_access_token(&ring, "http://issuer", &tampered, 150).is_err());
    }
}
