//! RFC 7523 client assertions at the token endpoint, over real HTTP: seed 003's requests
//! verbatim, and every refusal the RFC asks for (replay, audience, expiry, `alg: none`, an HMAC
//! keyed with the public key).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::keys::{claims, ClientKey};
use crate::server::{assert_oauth_error, assert_status, json, reply, TestServer};

const FORM: (&str, &str) = (
    "Content-Type",
    "application/x-www-form-urlencoded;charset=UTF-8",
);
const SCOPE: &str = "urn:opc:resource:consumer::all";

/// A password request from `oracle-app` with only its client_id (no credential) is
/// `invalid_client`: a client with registered keys is confidential.
async fn bare_client_id_is_refused(s: &TestServer) {
    let body =
        "grant_type=password&username=user-name&password=example-password&client_id=oracle-app";
    reply(s.post_raw("/oauth2/v1/token", &[FORM], body).await)
        .await
        .oauth_error(401, "invalid_client");
}

/// A server with client `oracle-app` registered by `client add --jwks-file`, and a user.
fn oracle_server(key: &ClientKey) -> TestServer {
    let s = TestServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, key.jwks().to_string()).unwrap();
    s.add_client(
        "oracle-app",
        &[
            "--jwks-file",
            path.to_str().unwrap(),
            "--token-endpoint-auth-method",
            "private_key_jwt",
            "--scopes",
            &format!("{SCOPE} offline_access"),
        ],
    );
    s.add_user("user-name", "example-password", &[]);
    s
}

/// Seed 003's "JWT Client Assertion" body with the placeholders filled in.
fn seed_body(assertion: &str, scope: &str) -> String {
    format!("grant_type=password&username=user-name&password=example-password&client_id=oracle-app&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}&scope={scope}")
}

async fn send(s: &TestServer, assertion: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let resp = s
        .post_raw("/oauth2/v1/token", &[FORM], seed_body(assertion, SCOPE))
        .await;
    let (status, _, body) = json(resp).await;
    (status, body)
}

/// Seed 003, both assertion requests verbatim (RFC 7523 §2.2), with an Ed25519 key registered
/// from a file and the audience the token endpoint URL, as Oracle's clients send it.
#[tokio::test]
async fn seed_003_assertion_requests_verbatim() {
    let key = ClientKey::ed25519("k1");
    let s = oracle_server(&key);
    let aud = s.url("/oauth2/v1/token");
    for scope in [SCOPE.to_owned(), format!("{SCOPE}%20offline_access")] {
        let assertion = key.sign(&claims("oracle-app", &aud, 60));
        let resp = s
            .post_raw("/oauth2/v1/token", &[FORM], seed_body(&assertion, &scope))
            .await;
        let body = reply(resp).await.ok();
        assert_eq!(body["token_type"], "Bearer");
        let (_, token) = crate::jwt_parts(body["access_token"].as_str().unwrap());
        assert_eq!(token["client_id"], "oracle-app");
    }
}

/// RFC 7523 §3 item 7: a `jti` is accepted once.
#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let key = ClientKey::ed25519("k1");
    let s = oracle_server(&key);
    let assertion = key.sign(&claims("oracle-app", &s.base, 60));
    let (status, body) = send(&s, &assertion).await;
    assert_status(status, &body, 200);
    let (status, body) = send(&s, &assertion).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    assert!(body["error_description"].as_str().unwrap().contains("jti"));
}

/// RFC 7523 §3 items 3-4: a wrong audience, an expired assertion, one living too long, or one
/// without `jti` is refused; `iss`/`sub` must be the client.
#[tokio::test]
async fn wrong_audience_expired_and_malformed_claims_are_refused() {
    let key = ClientKey::ed25519("k1");
    let s = oracle_server(&key);
    let mut cases = vec![
        (
            "wrong aud",
            claims("oracle-app", "https://elsewhere.example", 60),
        ),
        ("expired", claims("oracle-app", &s.base, -120)),
        ("too long", claims("oracle-app", &s.base, 3600 + 120)),
    ];
    // exp within an hour of now, but more than an hour after iat.
    let mut old_iat = claims("oracle-app", &s.base, 60);
    old_iat["iat"] = (old_iat["exp"].as_i64().unwrap() - 3601).into();
    cases.push(("exp - iat over an hour", old_iat));
    let mut no_jti = claims("oracle-app", &s.base, 60);
    no_jti.as_object_mut().unwrap().remove("jti");
    cases.push(("no jti", no_jti));
    let mut no_exp = claims("oracle-app", &s.base, 60);
    no_exp.as_object_mut().unwrap().remove("exp");
    cases.push(("no exp", no_exp));
    let mut other_iss = claims("oracle-app", &s.base, 60);
    other_iss["iss"] = "someone-else".into();
    cases.push(("iss != sub", other_iss));
    for (case, c) in cases {
        let (status, body) = send(&s, &key.sign(&c)).await;
        assert_eq!(status.as_u16(), 401, "{case}: {body}");
        assert_eq!(body["error"], "invalid_client", "{case}");
    }
    // A key the client never registered.
    let stranger = ClientKey::ed25519("k1");
    let (status, body) = send(&s, &stranger.sign(&claims("oracle-app", &s.base, 60))).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
}

/// Client libraries sign assertions valid for an hour (Authlib's `ClientSecretJWT` and
/// `PrivateKeyJWT` set `exp = iat + 3600`): accepted by default, as Okta does; a server
/// configured with a shorter `--assertion-max-lifetime` refuses them with a description that
/// says why, and accepts what fits.
#[tokio::test]
async fn an_hour_long_assertion_is_accepted_unless_configured_shorter() {
    let key = ClientKey::ed25519("k1");
    let s = oracle_server(&key);
    let (status, body) = send(&s, &key.sign(&claims("oracle-app", &s.base, 3600))).await;
    assert_status(status, &body, 200);

    let short = TestServer::builder()
        .args(&["--assertion-max-lifetime", "300"])
        .spawn();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, key.jwks().to_string()).unwrap();
    short.add_client(
        "oracle-app",
        &["--jwks-file", path.to_str().unwrap(), "--scopes", SCOPE],
    );
    short.add_user("user-name", "example-password", &[]);
    let (status, body) = send(&short, &key.sign(&claims("oracle-app", &short.base, 3600))).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("lives longer"),
        "{body}"
    );
    let (status, body) = send(&short, &key.sign(&claims("oracle-app", &short.base, 300))).await;
    assert_status(status, &body, 200);
}

/// RFC 7518 §3.6 / RFC 8725 §3.1: an unsigned assertion is never accepted.
#[tokio::test]
async fn alg_none_is_refused() {
    let key = ClientKey::ed25519("k1");
    let s = oracle_server(&key);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims("oracle-app", &s.base, 60).to_string());
    let (status, body) = send(&s, &format!("{header}.{payload}.")).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
}

/// RFC 8725 §2.1: an HS256 assertion whose HMAC key is the client's registered public key (the
/// algorithm-confusion attack) is refused.
#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let key = ClientKey::p256("k1");
    let s = oracle_server(&key);
    for secret in [key.public_jwk.to_string(), key.jwks().to_string()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let forged = jsonwebtoken::encode(
            &header,
            &claims("oracle-app", &s.base, 60),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        let (status, body) = send(&s, &forged).await;
        assert_oauth_error(status, &body, 401, "invalid_client");
    }
    // The same key signing properly (ES256) works, so the refusal above is about the algorithm.
    let (status, body) = send(&s, &key.sign(&claims("oracle-app", &s.base, 60))).await;
    assert_status(status, &body, 200);
}

/// A client restricted to private_key_jwt cannot fall back to other methods, and an assertion
/// cannot be combined with another credential or sent with a wrong type (RFC 7521 §4.2).
#[tokio::test]
async fn assertion_request_shape_is_strict() {
    let key = ClientKey::ed25519("k1");
    let s = oracle_server(&key);
    let assertion = key.sign(&claims("oracle-app", &s.base, 60));
    let body = seed_body(&assertion, SCOPE).replace("jwt-bearer", "saml2-bearer");
    reply(s.post_raw("/oauth2/v1/token", &[FORM], body).await)
        .await
        .oauth_error(400, "invalid_request");
    let body = seed_body(&assertion, SCOPE).replace("client_id=oracle-app", "client_id=other");
    reply(s.post_raw("/oauth2/v1/token", &[FORM], body).await)
        .await
        .oauth_error(401, "invalid_client");
    bare_client_id_is_refused(&s).await;
}

/// With `--assertion-audience issuer`, only the issuer is a valid `aud`, not a token endpoint.
#[tokio::test]
async fn issuer_only_audience_policy() {
    let key = ClientKey::p256("k1");
    let s = TestServer::builder()
        .args(&["--assertion-audience", "issuer"])
        .env("GATEHOUSE_ADMIN_TOKEN", crate::admin::TOKEN)
        .spawn();
    // Inline JWKS through the admin API this time.
    let (status, body) = crate::admin::put_json(
        &s,
        "/Client/oracle-app",
        &json!({"grant_types": ["password"], "jwks": key.jwks(), "scopes": [SCOPE]}),
    )
    .await;
    assert_status(status, &body, 201);
    s.add_user("user-name", "example-password", &[]);
    let (status, body) = send(
        &s,
        &key.sign(&claims("oracle-app", &s.url("/oauth2/v1/token"), 60)),
    )
    .await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    let (status, body) = send(&s, &key.sign(&claims("oracle-app", &s.base, 60))).await;
    assert_status(status, &body, 200);
    // A client with registered keys is confidential even without a method setting: its bare
    // client_id is not enough.
    bare_client_id_is_refused(&s).await;
}

/// `client_secret_jwt`: an HS256 assertion keyed with the client secret authenticates; the
/// secret is stored sealed under the server key, so the database files never hold it in
/// plaintext; the client may use no other method.
#[tokio::test]
async fn client_secret_jwt_with_a_sealed_secret() {
    const SECRET: &str = "hs-secret-7b1d9c0e2f4a";
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", crate::admin::TOKEN)
        .env("GATEHOUSE_SECRET_KEY", &URL_SAFE_NO_PAD.encode([42u8; 32]))
        .spawn();
    let client = json!({"secret": SECRET, "token_endpoint_auth_method": "client_secret_jwt", "scopes": [SCOPE]});
    let (status, body) = crate::admin::put_json(&s, "/Client/oracle-app", &client).await;
    assert_status(status, &body, 201);
    assert!(!body.to_string().contains(SECRET));
    s.add_user("user-name", "example-password", &[]);
    let hs = |secret: &str| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("oracle-app", &s.url("/oauth2/v1/token"), 60),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let assertion = hs(SECRET);
    let (status, body) = send(&s, &assertion).await;
    assert_status(status, &body, 200);
    let (status, body) = send(&s, &assertion).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    let (status, body) = send(&s, &hs("a-wrong-secret")).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    let resp = s
        .password_grant(
            ("oracle-app", SECRET),
            "user-name",
            "example-password",
            None,
        )
        .await;
    reply(resp).await.oauth_error(401, "invalid_client");

    let text = s.db.dump().await;
    assert!(!text.is_empty(), "nothing was read from the database");
    assert!(!text.contains(SECRET), "plaintext secret in the database");
}
