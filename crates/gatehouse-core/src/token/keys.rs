//! Signing keys: made on first start, kept in the database, published as a JWKS (RFC 7517).
//! Key ids are RFC 7638 thumbprints. Private keys are sealed at rest ([`crate::sealing`]). Keys are
//! parsed once, when the ring is loaded, never per request.
//!
//! The ring holds a current key per algorithm in use: the key that serves the server's default
//! algorithm (the newest key made with [`StoredKey::serves_default`]), and a key of each other
//! algorithm a client names (`id_token_signed_response_alg`, `access_token_alg`). A new default
//! key supersedes every older key; a key added for clients supersedes the older keys of its
//! algorithm only ([`retired_at`]). A superseded key stays in the ring (verifying and published)
//! until [`RETIREMENT`] after its successor was made: by then every token it signed has expired,
//! since no access token or id_token lives longer than [`MAX_ACCESS_TOKEN_TTL`].

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::rngs::OsRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::client::MAX_ACCESS_TOKEN_TTL;
use crate::error::Error;
use crate::sealing::Sealer;
use crate::store::StoredKey;

/// Clock skew tolerated on top of the longest token lifetime, in seconds.
const SKEW: i64 = 60;
/// How long a superseded key stays in the ring after its successor was made, in seconds.
pub const RETIREMENT: i64 = MAX_ACCESS_TOKEN_TTL as i64 + SKEW;

/// The JOSE `typ` of access tokens (RFC 9068 §2.1), in the header each key renders once.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The asymmetric algorithms gatehouse signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SigningAlg {
    /// Ed25519 (RFC 8037), the default.
    EdDSA,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
}

impl SigningAlg {
    /// Every algorithm, default first.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::EdDSA, SigningAlg::ES256, SigningAlg::RS256];

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::EdDSA => "EdDSA",
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
        }
    }

    /// Parses a JWS `alg` name.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        SigningAlg::ALL
            .into_iter()
            .find(|a| a.as_str() == raw)
            .ok_or_else(|| {
                Error::invalid_request(format!(
                    "unknown signing algorithm {}: use EdDSA, ES256 or RS256",
                    crate::error::echo(raw)
                ))
            })
    }

    /// The `jsonwebtoken` algorithm.
    pub fn jwt(self) -> Algorithm {
        match self {
            SigningAlg::EdDSA => Algorithm::EdDSA,
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::RS256 => Algorithm::RS256,
        }
    }
}

/// A parsed signing key, ready to sign and verify.
pub struct SigningKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlg,
    /// When it was made.
    pub created_at: i64,
    /// Whether it serves the server's default algorithm (see [`StoredKey::serves_default`]).
    pub serves_default: bool,
    /// The private key in the signing crate's own form, ready to sign without any parsing.
    signer: Signer,
    /// The same key for `jsonwebtoken` (tests sign foreign-looking tokens with it).
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_jwk: Value,
    /// The encoded JOSE headers of access tokens (`typ: at+jwt`) and id_tokens (`typ: JWT`),
    /// made once per key.
    access_header: String,
    id_header: String,
}

/// A private key, parsed once when the ring is loaded (parsing an Ed25519 key derives its public
/// point, about as costly as a signature; an RSA key is costlier still).
enum Signer {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

impl Signer {
    /// The JWS signature of `message` (RFC 7518 §3: ES256 as the 64-byte `r || s`).
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        use rsa::signature::{SignatureEncoding, Signer as _};
        match self {
            Signer::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
            Signer::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Signer::Rsa(key) => key.sign(message).to_vec(),
        }
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

impl SigningKey {
    /// Makes a new key pair and the record to store it (serving the default algorithm), its
    /// private key sealed by `sealer`.
    pub fn generate(alg: SigningAlg, now: i64, sealer: &Sealer) -> Result<StoredKey, Error> {
        let private_der = match alg {
            SigningAlg::EdDSA => {
                use ed25519_dalek::pkcs8::EncodePrivateKey;
                let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
                key.to_pkcs8_der()
                    .map_err(Error::internal)?
                    .as_bytes()
                    .to_vec()
            }
            SigningAlg::ES256 => {
                use p256::pkcs8::EncodePrivateKey;
                let key = p256::SecretKey::random(&mut OsRng);
                key.to_pkcs8_der()
                    .map_err(Error::internal)?
                    .as_bytes()
                    .to_vec()
            }
            SigningAlg::RS256 => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).map_err(Error::internal)?;
                key.to_pkcs1_der()
                    .map_err(Error::internal)?
                    .as_bytes()
                    .to_vec()
            }
        };
        let parsed = SigningKey::from_der(alg, &private_der, now)?;
        let sealed = sealer.seal(&seal_context(&parsed.kid), &private_der)?;
        Ok(StoredKey {
            kid: parsed.kid,
            alg: alg.as_str().to_owned(),
            private_der: sealed,
            created_at: now,
            serves_default: true,
        })
    }

    /// Opens and parses a stored key.
    pub fn from_stored(stored: &StoredKey, sealer: &Sealer) -> Result<Self, Error> {
        let der = sealer.open(&seal_context(&stored.kid), &stored.private_der)?;
        let mut key =
            SigningKey::from_der(SigningAlg::parse(&stored.alg)?, &der, stored.created_at)?;
        if key.kid != stored.kid {
            return Err(Error::internal("a stored key does not match its kid"));
        }
        key.serves_default = stored.serves_default;
        Ok(key)
    }

    fn from_der(alg: SigningAlg, der: &[u8], created_at: i64) -> Result<Self, Error> {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (public_jwk, decoding, signer) = match alg {
            SigningAlg::EdDSA => {
                use ed25519_dalek::pkcs8::DecodePrivateKey;
                let key =
                    ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(Error::internal)?;
                let x = b64(key.verifying_key().as_bytes());
                let decoding = DecodingKey::from_ed_components(&x).map_err(Error::internal)?;
                let jwk = json!({"crv": "Ed25519", "kty": "OKP", "x": x});
                (jwk, decoding, Signer::Ed25519(key))
            }
            SigningAlg::ES256 => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                use p256::pkcs8::DecodePrivateKey;
                let key = p256::SecretKey::from_pkcs8_der(der).map_err(Error::internal)?;
                let point = key.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(Error::internal(
                        "P-256 public key has no affine coordinates",
                    ));
                };
                let (x, y) = (b64(x), b64(y));
                let decoding = DecodingKey::from_ec_components(&x, &y).map_err(Error::internal)?;
                let jwk = json!({"crv": "P-256", "kty": "EC", "x": x, "y": y});
                (jwk, decoding, Signer::P256(key.into()))
            }
            SigningAlg::RS256 => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                use rsa::traits::PublicKeyParts;
                let key = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(Error::internal)?;
                let n = b64(&key.n().to_bytes_be());
                let e = b64(&key.e().to_bytes_be());
                let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(Error::internal)?;
                let signer = Signer::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key)));
                (json!({"e": e, "kty": "RSA", "n": n}), decoding, signer)
            }
        };
        let encoding = match alg {
            SigningAlg::EdDSA => EncodingKey::from_ed_der(der),
            SigningAlg::ES256 => EncodingKey::from_ec_der(der),
            SigningAlg::RS256 => EncodingKey::from_rsa_der(der),
        };
        // RFC 7638: the thumbprint is the SHA-256 of the required members, in lexicographic
        // order, without whitespace; serde_json's map keeps keys sorted, so `to_string` is it.
        let kid = b64(&Sha256::digest(public_jwk.to_string().as_bytes()));
        let header = |typ: &str| {
            let header = json!({"typ": typ, "alg": alg.as_str(), "kid": kid});
            b64(header.to_string().as_bytes())
        };
        Ok(SigningKey {
            access_header: header(ACCESS_TOKEN_TYP),
            id_header: header("JWT"),
            kid,
            alg,
            created_at,
            serves_default: true,
            signer,
            encoding,
            decoding,
            public_jwk,
        })
    }

    /// A compact JWS (RFC 7515 §7.1) of `claims` with the access-token header (`typ: at+jwt`).
    pub fn sign_access_claims(&self, claims: &impl serde::Serialize) -> Result<String, Error> {
        self.compact(&self.access_header, claims)
    }

    /// A compact JWS of `claims` with the id_token header (`typ: JWT`).
    pub fn sign_id_claims(&self, claims: &impl serde::Serialize) -> Result<String, Error> {
        self.compact(&self.id_header, claims)
    }

    fn compact(&self, header: &str, claims: &impl serde::Serialize) -> Result<String, Error> {
        let payload = serde_json::to_vec(claims).map_err(Error::internal)?;
        let mut jws = String::with_capacity(header.len() + payload.len() * 4 / 3 + 360);
        jws.push_str(header);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature = self.signer.sign(jws.as_bytes());
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        Ok(jws)
    }

    /// The key to sign with.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The key to verify with.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWK with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.public_jwk.clone();
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), Value::String(self.kid.clone()));
            map.insert("alg".into(), Value::String(self.alg.as_str().into()));
            map.insert("use".into(), Value::String("sig".into()));
        }
        jwk
    }
}

/// The keys in force: the current key of each algorithm in use signs (the default key for
/// clients that name no algorithm), and every key verifies and is published.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
    /// The keys no later key supersedes, oldest first: at most one per algorithm.
    current: Vec<Arc<SigningKey>>,
    /// The key of clients that name no algorithm.
    default: Arc<SigningKey>,
    /// [`KeyRing::jwks`] rendered once, when the ring is built, and served as it is.
    jwks_json: Arc<str>,
}

impl KeyRing {
    /// Builds the ring from the stored keys (oldest first) that are in force at `now`: each key
    /// no later key supersedes, and each superseded key until [`RETIREMENT`] after its successor
    /// was made. Fails when there is no key.
    pub fn in_force(stored: &[StoredKey], sealer: &Sealer, now: i64) -> Result<Self, Error> {
        let kept = stored
            .iter()
            .enumerate()
            .filter_map(|(i, k)| match retired_at(stored, i) {
                None => Some((k, true)),
                Some(at) if at > now => Some((k, false)),
                Some(_) => None,
            })
            .collect();
        KeyRing::build(kept, sealer)
    }

    /// Builds the ring from every stored key (oldest first), retired or not. Fails when there is
    /// none.
    pub fn from_stored(stored: &[StoredKey], sealer: &Sealer) -> Result<Self, Error> {
        let all = stored
            .iter()
            .enumerate()
            .map(|(i, k)| (k, retired_at(stored, i).is_none()))
            .collect();
        KeyRing::build(all, sealer)
    }

    /// The ring of `stored` keys, each marked whether it is current.
    fn build(stored: Vec<(&StoredKey, bool)>, sealer: &Sealer) -> Result<Self, Error> {
        let mut keys = Vec::with_capacity(stored.len());
        let mut current = Vec::new();
        for (k, is_current) in stored {
            let key = Arc::new(SigningKey::from_stored(k, sealer)?);
            if is_current {
                current.push(key.clone());
            }
            keys.push(key);
        }
        // The newest current key that serves the default; failing that (a store written by hand),
        // the newest key.
        let default = current
            .iter()
            .rev()
            .find(|k| k.serves_default)
            .or(keys.last())
            .cloned()
            .ok_or_else(|| Error::internal("no signing key"))?;
        let jwks_json = Arc::from(jwks_of(&keys).to_string());
        Ok(KeyRing {
            keys,
            current,
            default,
            jwks_json,
        })
    }

    /// The key that signs for clients that name no algorithm (the server's default).
    pub fn current(&self) -> &Arc<SigningKey> {
        &self.default
    }

    /// The current key of `alg`, if the ring has one.
    pub fn current_of(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        if self.default.alg == alg {
            return Some(&self.default);
        }
        self.current.iter().rev().find(|k| k.alg == alg)
    }

    /// The key that signs for a client naming `alg` (`None`: the default key); `None` when the
    /// ring has no current key of that algorithm.
    pub fn signer(&self, alg: Option<SigningAlg>) -> Option<&Arc<SigningKey>> {
        match alg {
            None => Some(&self.default),
            Some(alg) => self.current_of(alg),
        }
    }

    /// The algorithms of the keys in the ring, the default key's first: every algorithm a token
    /// that verifies may be signed with.
    pub fn algs(&self) -> Vec<SigningAlg> {
        let mut algs = vec![self.default.alg];
        for alg in SigningAlg::ALL {
            if !algs.contains(&alg) && self.keys.iter().any(|k| k.alg == alg) {
                algs.push(alg);
            }
        }
        algs
    }

    /// The key with this `kid`, whatever its algorithm.
    pub fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> &[Arc<SigningKey>] {
        &self.keys
    }

    /// The JWKS document (RFC 7517 §5), newest key first.
    pub fn jwks(&self) -> Value {
        jwks_of(&self.keys)
    }

    /// The JWKS document as JSON text, rendered when the ring was built.
    pub fn jwks_json(&self) -> &Arc<str> {
        &self.jwks_json
    }
}

fn jwks_of(keys: &[Arc<SigningKey>]) -> Value {
    let keys: Vec<Value> = keys.iter().rev().map(|k| k.public_jwk()).collect();
    json!({ "keys": keys })
}

/// When the key at `index` of `stored` (oldest first) leaves the ring: [`RETIREMENT`] after the
/// first later key that supersedes it was made; `None` while none does (a current key). A key
/// that serves the default supersedes every older key; a key added for clients supersedes the
/// older keys of its algorithm.
pub fn retired_at(stored: &[StoredKey], index: usize) -> Option<i64> {
    let key = stored.get(index)?;
    stored
        .get(index + 1..)?
        .iter()
        .find(|later| later.serves_default || later.alg == key.alg)
        .map(|successor| successor.created_at + RETIREMENT)
}

fn seal_context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

#[cfg(test)]
pub(crate) fn test_sealer() -> Sealer {
    Sealer::new(&[7u8; crate::sealing::KEY_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_a_parsable_key_with_a_thumbprint_kid() {
        for alg in SigningAlg::ALL {
            let stored = SigningKey::generate(alg, 0, &test_sealer()).unwrap();
            let key = SigningKey::from_stored(&stored, &test_sealer()).unwrap();
            assert_eq!(key.kid, stored.kid);
            assert_eq!(key.kid.len(), 43);
            assert_eq!(key.public_jwk()["alg"], alg.as_str());
        }
    }

    #[test]
    fn the_newest_key_signs() {
        let a = SigningKey::generate(SigningAlg::EdDSA, 1, &test_sealer()).unwrap();
        let b = SigningKey::generate(SigningAlg::EdDSA, 2, &test_sealer()).unwrap();
        let ring = KeyRing::from_stored(&[a.clone(), b.clone()], &test_sealer()).unwrap();
        assert_eq!(ring.current().kid, b.kid);
        assert!(ring.find(&a.kid).is_some());
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
        let rendered: Value = serde_json::from_str(ring.jwks_json()).unwrap();
        assert_eq!(rendered, ring.jwks());
    }

    #[test]
    fn private_keys_are_sealed_at_rest() {
        let stored = SigningKey::generate(SigningAlg::EdDSA, 1, &test_sealer()).unwrap();
        let other = Sealer::new(&[8u8; crate::sealing::KEY_LEN]);
        assert!(SigningKey::from_stored(&stored, &other).is_err());
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        assert!(ed25519_dalek::SigningKey::from_pkcs8_der(&stored.private_der).is_err());
    }

    /// A superseded key verifies until every token it signed has expired, then leaves the JWKS.
    #[test]
    fn a_superseded_key_stays_in_force_until_its_tokens_expire() {
        let a = SigningKey::generate(SigningAlg::EdDSA, 100, &test_sealer()).unwrap();
        let b = SigningKey::generate(SigningAlg::ES256, 200, &test_sealer()).unwrap();
        let stored = [a.clone(), b.clone()];
        let ring = KeyRing::in_force(&stored, &test_sealer(), 200 + RETIREMENT - 1).unwrap();
        assert!(ring.find(&a.kid).is_some());
        assert_eq!(ring.current().kid, b.kid);
        let ring = KeyRing::in_force(&stored, &test_sealer(), 200 + RETIREMENT).unwrap();
        assert!(ring.find(&a.kid).is_none());
        assert_eq!(ring.keys().len(), 1);
    }

    fn for_clients(alg: SigningAlg, at: i64) -> StoredKey {
        StoredKey {
            serves_default: false,
            ..SigningKey::generate(alg, at, &test_sealer()).unwrap()
        }
    }

    /// A key added for clients (RS256 for an Auth0-shaped client) signs for them next to the
    /// default key, which keeps signing for everyone else; both are published.
    #[test]
    fn the_ring_holds_a_current_key_per_algorithm() {
        let default = SigningKey::generate(SigningAlg::EdDSA, 100, &test_sealer()).unwrap();
        let rs = for_clients(SigningAlg::RS256, 200);
        let ring = KeyRing::in_force(&[default.clone(), rs.clone()], &test_sealer(), 300).unwrap();
        assert_eq!(ring.current().kid, default.kid);
        assert_eq!(ring.signer(None).unwrap().kid, default.kid);
        assert_eq!(ring.signer(Some(SigningAlg::RS256)).unwrap().kid, rs.kid);
        assert_eq!(
            ring.signer(Some(SigningAlg::EdDSA)).unwrap().kid,
            default.kid
        );
        assert!(ring.signer(Some(SigningAlg::ES256)).is_none());
        assert_eq!(ring.algs(), [SigningAlg::EdDSA, SigningAlg::RS256]);
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
        assert_eq!(retired_at(&[default, rs], 0), None);
    }

    /// A key for clients supersedes only older keys of its algorithm; a new default key
    /// supersedes every older key (the clients' algorithms then get keys of their own again).
    #[test]
    fn supersession_follows_the_kind_of_the_later_key() {
        let d1 = SigningKey::generate(SigningAlg::EdDSA, 100, &test_sealer()).unwrap();
        let r1 = for_clients(SigningAlg::RS256, 200);
        let r2 = for_clients(SigningAlg::RS256, 300);
        let d2 = SigningKey::generate(SigningAlg::EdDSA, 400, &test_sealer()).unwrap();
        let e1 = for_clients(SigningAlg::ES256, 500);
        let stored = [d1.clone(), r1.clone(), r2.clone(), d2.clone(), e1.clone()];
        assert_eq!(retired_at(&stored, 0), Some(400 + RETIREMENT));
        assert_eq!(retired_at(&stored, 1), Some(300 + RETIREMENT));
        assert_eq!(retired_at(&stored, 2), Some(400 + RETIREMENT));
        assert_eq!(retired_at(&stored, 3), None);
        assert_eq!(retired_at(&stored, 4), None);
        let ring = KeyRing::in_force(&stored, &test_sealer(), 600).unwrap();
        assert_eq!(ring.current().kid, d2.kid);
        assert!(ring.signer(Some(SigningAlg::RS256)).is_none());
        assert_eq!(ring.signer(Some(SigningAlg::ES256)).unwrap().kid, e1.kid);
        // Superseded keys still verify until their retirement.
        assert!(ring.find(&r2.kid).is_some());
        let ring = KeyRing::in_force(&stored, &test_sealer(), 400 + RETIREMENT).unwrap();
        assert!(ring.find(&r2.kid).is_none() && ring.find(&d1.kid).is_none());
        assert_eq!(ring.keys().len(), 2);
        assert_eq!(ring.algs(), [SigningAlg::EdDSA, SigningAlg::ES256]);
    }
}
