//! Unit tests of assertion parsing, signature checking and the claim rules (RFC 7523 §3).

use super::*;
use crate::client::ClientSettings;
use crate::token::keys::{SigningAlg, SigningKey};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example.com";
const NOW: i64 = 1_700_000_000;

fn key(alg: SigningAlg) -> SigningKey {
    let sealer = crate::sealing::Sealer::new(&[7u8; 32]);
    SigningKey::from_stored(&SigningKey::generate(alg, 0, &sealer).unwrap(), &sealer).unwrap()
}

fn client(jwks: Value) -> Client {
    Client {
        id: ClientId::parse("app").unwrap(),
        secret_hash: None,
        secret_sealed: None,
        settings: ClientSettings {
            jwks: Some(jwks),
            ..ClientSettings::default()
        },
    }
}

fn claims(aud: &str, exp: i64) -> Value {
    json!({"iss": "app", "sub": "app", "aud": aud, "exp": exp, "iat": NOW, "jti": "j1"})
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn verify(client: &Client, assertion: &str) -> Option<Claims> {
    let (header, _) = peek(assertion).unwrap();
    verify_signature(client, assertion, header.alg, header.kid.as_deref(), None).unwrap()
}

#[test]
fn signatures_of_every_key_type_verify_and_foreign_ones_do_not() {
    for alg in SigningAlg::ALL {
        let k = key(alg);
        let c = client(json!({ "keys": [k.public_jwk()] }));
        // The same header and claims under the registered key's `kid`, signed by `signer`.
        let signed_by =
            |signer: &EncodingKey| sign(alg.jwt(), Some(&k.kid), &claims(ISSUER, NOW + 60), signer);
        let token = signed_by(k.encoding_key());
        assert!(verify(&c, &token).is_some(), "{alg:?}");
        let other = key(alg);
        let forged = signed_by(other.encoding_key());
        assert!(verify(&c, &forged).is_none(), "{alg:?}");
    }
}

/// The RS256-public-key-as-HS256-secret confusion: the registered key is never an HMAC key.
#[test]
fn hmac_signed_with_the_public_key_is_refused() {
    let k = key(SigningAlg::RS256);
    let jwk = k.public_jwk();
    let c = client(json!({ "keys": [jwk.clone()] }));
    let secret = serde_json::to_vec(&jwk).unwrap();
    let token = sign(
        Algorithm::HS256,
        None,
        &claims(ISSUER, NOW + 60),
        &EncodingKey::from_secret(&secret),
    );
    assert!(verify(&c, &token).is_none());
}

#[test]
fn alg_none_is_malformed() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims(ISSUER, NOW + 60).to_string());
    assert!(peek(&format!("{header}.{body}.")).is_err());
}

#[test]
fn claim_rules() {
    let policy = AssertionPolicy::default();
    let auds = audiences(ISSUER, policy.audience);
    let parse = |v: Value| -> Claims { serde_json::from_value(v).unwrap() };
    assert_eq!(
        check_claims(&parse(claims(ISSUER, NOW + 60)), &auds, &policy, NOW),
        Ok(())
    );
    let endpoint = format!("{ISSUER}/oauth2/v1/token");
    assert_eq!(
        check_claims(&parse(claims(&endpoint, NOW + 60)), &auds, &policy, NOW),
        Ok(())
    );
    let many = json!({"iss":"app","sub":"app","aud":["x", ISSUER],"exp":NOW+60,"jti":"j"});
    assert_eq!(check_claims(&parse(many), &auds, &policy, NOW), Ok(()));
    // Within the skew, an assertion that just expired still passes; beyond it, it does not.
    assert_eq!(
        check_claims(&parse(claims(ISSUER, NOW - 10)), &auds, &policy, NOW),
        Ok(())
    );
    assert!(check_claims(&parse(claims(ISSUER, NOW - 30)), &auds, &policy, NOW).is_err());
    // Up to an hour (plus the skew) ahead passes by default; further does not.
    assert_eq!(
        check_claims(&parse(claims(ISSUER, NOW + 3600)), &auds, &policy, NOW),
        Ok(())
    );
    assert!(check_claims(&parse(claims(ISSUER, NOW + 3700)), &auds, &policy, NOW).is_err());
    // exp - iat is capped too, even when exp is close to now.
    let old = json!({"iss":"app","sub":"app","aud":ISSUER,"iat":NOW-3600,"exp":NOW+60,"jti":"j"});
    assert!(check_claims(&parse(old), &auds, &policy, NOW).is_err());
    assert!(check_claims(
        &parse(claims("https://other", NOW + 60)),
        &auds,
        &policy,
        NOW
    )
    .is_err());
    let no_jti = json!({"iss":"app","sub":"app","aud":ISSUER,"exp":NOW+60});
    assert!(check_claims(&parse(no_jti), &auds, &policy, NOW).is_err());
    let no_exp = json!({"iss":"app","sub":"app","aud":ISSUER,"jti":"j"});
    assert!(check_claims(&parse(no_exp), &auds, &policy, NOW).is_err());
    let future = json!({"iss":"app","sub":"app","aud":ISSUER,"exp":NOW+60,"nbf":NOW+120,"jti":"j"});
    assert!(check_claims(&parse(future), &auds, &policy, NOW).is_err());
}

#[test]
fn issuer_only_policy_refuses_token_endpoint_audiences() {
    let policy = AssertionPolicy {
        audience: AudiencePolicy::Issuer,
        ..AssertionPolicy::default()
    };
    let auds = audiences(ISSUER, policy.audience);
    let c: Claims =
        serde_json::from_value(claims(&format!("{ISSUER}/oauth/token"), NOW + 60)).unwrap();
    assert!(check_claims(&c, &auds, &policy, NOW).is_err());
}

#[test]
fn a_client_restricted_to_another_method_is_not_checked() {
    let k = key(SigningAlg::EdDSA);
    let mut c = client(json!({ "keys": [k.public_jwk()] }));
    c.settings.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::ClientSecretBasic);
    let token = sign(
        Algorithm::EdDSA,
        None,
        &claims(ISSUER, NOW + 60),
        k.encoding_key(),
    );
    assert!(verify(&c, &token).is_none());
}

#[test]
fn discovery_lists_the_assertion_methods_and_never_none_as_alg() {
    assert!(auth_methods_supported(false).contains(&"private_key_jwt"));
    assert!(!auth_methods_supported(false).contains(&"client_secret_jwt"));
    assert!(auth_methods_supported(true).contains(&"client_secret_jwt"));
    let algs = signing_algs_supported(true);
    assert!(algs.contains(&"EdDSA".to_owned()) && algs.contains(&"HS256".to_owned()));
    assert!(!algs.iter().any(|a| a.eq_ignore_ascii_case("none")));
}
