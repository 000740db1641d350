//! Discovery (RFC 8414, OpenID Connect Discovery), the JWKS (RFC 7517), key rotation, the server
//! key, and the legacy HS256 option, with tokens verified by `jwt-simple` rather than the
//! library that signed them.

use std::time::Duration;

use crate::jose::{try_verify_with_jwks, verify_hs256, verify_with_jwks};
use crate::jwt_parts;
use crate::refresh::{logged_in, login, server, APP, USER};
use crate::server::{reply, TestServer};

/// The two metadata documents: RFC 8414 §3 and OpenID Connect Discovery §4.
const METADATA_PATHS: [&str; 2] = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
];

async fn get_json(s: &TestServer, path: &str) -> serde_json::Value {
    reply(s.get(path, &[]).await).await.ok()
}

/// RFC 8414 §2 and OpenID Connect Discovery §3: every endpoint, grant, auth method, algorithm
/// and scope; each listed endpoint answers.
#[tokio::test]
async fn metadata_lists_everything_served() {
    let s = server();
    for path in METADATA_PATHS {
        let m = get_json(&s, path).await;
        assert_eq!(m["issuer"], s.base);
        for (key, endpoint) in [
            ("token_endpoint", "/oauth/token"),
            ("revocation_endpoint", "/oauth/revoke"),
            ("introspection_endpoint", "/oauth/introspect"),
            ("userinfo_endpoint", "/userinfo"),
            ("jwks_uri", "/.well-known/jwks.json"),
        ] {
            assert_eq!(m[key], s.url(endpoint), "{path} {key}");
        }
        let list = |k: &str| -> Vec<String> {
            m[k].as_array()
                .unwrap_or_else(|| panic!("{k} missing"))
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            list("grant_types_supported"),
            [
                "password",
                "refresh_token",
                "client_credentials",
                "http://auth0.com/oauth/grant-type/mfa-otp",
                "http://auth0.com/oauth/grant-type/mfa-recovery-code"
            ]
        );
        // RFC 7523 §2.2 assertions are listed next to the secret-based methods (issue 4).
        for method in [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "client_secret_jwt",
            "none",
        ] {
            assert!(list("token_endpoint_auth_methods_supported").contains(&method.to_owned()));
        }
        assert!(!list("introspection_endpoint_auth_methods_supported").contains(&"none".to_owned()));
        let assertion_algs = list("token_endpoint_auth_signing_alg_values_supported");
        for alg in ["EdDSA", "ES256", "RS256", "HS256"] {
            assert!(assertion_algs.contains(&alg.to_owned()), "{alg}");
        }
        assert!(!assertion_algs.contains(&"none".to_owned()));
        // The algorithms in use: only the default key's on a server whose clients name none
        // (signing_algs.rs covers clients that do, and HS256).
        assert_eq!(list("id_token_signing_alg_values_supported"), ["EdDSA"]);
        assert_eq!(list("access_token_signing_alg_values_supported"), ["EdDSA"]);
        for scope in [
            "openid",
            "offline_access",
            "email",
            "phone",
            "profile",
            "contacts.read",
        ] {
            assert!(
                list("scopes_supported").contains(&scope.to_owned()),
                "{scope}"
            );
        }
        assert_eq!(list("subject_types_supported"), ["public"]);
    }
    let m = get_json(&s, "/.well-known/openid-configuration").await;
    let jwks = s
        .http
        .get(m["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status().as_u16(), 200);
}

/// A JWT access token and an id_token verify against the published JWKS with another JOSE
/// implementation, for every signing algorithm.
#[tokio::test]
async fn tokens_verify_against_the_jwks_with_another_jose_library() {
    for alg in ["EdDSA", "ES256", "RS256"] {
        let s = TestServer::builder()
            .env("GATEHOUSE_SIGNING_ALG", alg)
            .spawn();
        s.add_client(
            "app",
            &["--secret", "app-secret", "--scopes", "openid email"],
        );
        s.add_user(USER.0, USER.1, &["--email", "alice@example.com"]);
        let tokens = s.login(APP, USER.0, USER.1, Some("openid email")).await;
        let jwks = get_json(&s, "/.well-known/jwks.json").await;
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["alg"], alg);
        assert_eq!(keys[0]["use"], "sig");
        assert!(keys[0].get("d").is_none(), "no private part is published");
        let at = verify_with_jwks(
            &jwks,
            tokens["access_token"].as_str().unwrap(),
            "at+jwt",
            &s.base,
        );
        assert_eq!(at.custom["client_id"], "app");
        let id = verify_with_jwks(&jwks, tokens["id_token"].as_str().unwrap(), "JWT", &s.base);
        assert_eq!(id.custom["email"], "alice@example.com");
        assert!(id.custom["auth_time"].is_i64());
        // A forged token (signature of another token) does not verify.
        let at_str = tokens["access_token"].as_str().unwrap();
        let id_str = tokens["id_token"].as_str().unwrap();
        let forged = format!(
            "{}.{}",
            at_str.rsplit_once('.').unwrap().0,
            id_str.rsplit_once('.').unwrap().1
        );
        assert!(
            try_verify_with_jwks(&jwks, &forged, "at+jwt", &s.base).is_err(),
            "{alg}"
        );
    }
}

/// `gatehouse keys rotate`: the running server signs with the new key within a few seconds, and
/// tokens of both keys keep verifying (JWKS and introspection) until they expire.
#[tokio::test]
async fn key_rotation_keeps_old_tokens_verifying() {
    let (s, before) = logged_in("openid").await;
    let (old_header, _) = jwt_parts(before["access_token"].as_str().unwrap());
    let rotated = s.cli_ok(&["keys", "rotate", "--alg", "ES256"], None);
    assert_ne!(rotated["kid"], old_header["kid"]);
    // The server reloads its ring lazily, at most 5 s after it was loaded.
    let mut after = login(&s, "openid").await;
    for _ in 0..80 {
        if jwt_parts(after["access_token"].as_str().unwrap()).0["kid"] == rotated["kid"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = login(&s, "openid").await;
    }
    let (new_header, _) = jwt_parts(after["access_token"].as_str().unwrap());
    assert_eq!(new_header["kid"], rotated["kid"]);
    assert_eq!(new_header["alg"], "ES256");
    let jwks = get_json(&s, "/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    for tokens in [&before, &after] {
        for (token, typ) in [("access_token", "at+jwt"), ("id_token", "JWT")] {
            verify_with_jwks(&jwks, tokens[token].as_str().unwrap(), typ, &s.base);
        }
        assert_eq!(
            s.introspect(APP, tokens["access_token"].as_str().unwrap())
                .await["active"],
            true
        );
    }
    let list = s.cli_ok(&["keys", "list"], None);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["state"], "published");
    assert_eq!(list[1]["state"], "current");
    // The old key leaves the JWKS a day (the longest token lifetime) plus skew after rotation.
    let retires = list[0]["retires_at"].as_i64().unwrap();
    assert_eq!(
        retires,
        list[1]["created_at"].as_i64().unwrap() + 86400 + 60
    );
}

/// Connect's sample: `jwt.verify(access_token, client_secret)` with a client that opted into
/// HS256; the token's audience is that client alone, and its secret is sealed at rest.
#[tokio::test]
async fn hs256_legacy_tokens_verify_with_the_client_secret() {
    let s = server();
    let secret = "connect-client-secret";
    s.add_client(
        "connect",
        &[
            "--secret",
            secret,
            "--scopes",
            "openid phone email",
            "--access-token-alg",
            "HS256",
        ],
    );
    let client = ("connect", secret);
    let tokens = s
        .login(client, USER.0, USER.1, Some("openid phone email"))
        .await;
    let at = tokens["access_token"].as_str().unwrap();
    let (header, _) = jwt_parts(at);
    assert_eq!(header["alg"], "HS256");
    let claims = verify_hs256(secret, at).expect("jwt.verify(token, client_secret)");
    assert_eq!(claims.custom["client_id"], "connect");
    assert_eq!(jwt_parts(at).1["aud"], "connect");
    assert!(claims
        .audiences
        .unwrap()
        .contains(&["connect".to_owned()].into()));
    assert!(verify_hs256("another-secret", at).is_err());
    // gatehouse itself resolves it: introspection and userinfo.
    assert_eq!(s.introspect(client, at).await["active"], true);
    let resp = s.userinfo(at).await;
    assert_eq!(resp.status().as_u16(), 200);
    // The id_token is still signed with the server key.
    let jwks = get_json(&s, "/.well-known/jwks.json").await;
    verify_with_jwks(&jwks, tokens["id_token"].as_str().unwrap(), "JWT", &s.base);
    // A wrong secret does not authenticate the client.
    let resp = s
        .password_grant(("connect", "nope"), USER.0, USER.1, None)
        .await;
    assert_eq!(resp.status().as_u16(), 401);
    // Neither the secret nor any key is in the database in clear.
    assert!(!s.db.dump().await.contains(secret));
    // Refresh keeps working with HS256 access tokens.
    let resp = s
        .refresh(
            APP,
            login(&s, "openid").await["refresh_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
}

/// The server key: generated next to an SQLite database with mode 0600, or taken from
/// GATEHOUSE_SECRET_KEY; required for PostgreSQL.
#[tokio::test]
async fn the_server_key_is_generated_for_sqlite_and_required_for_postgres() {
    let s = server();
    if s.db.backend != crate::database::Backend::Sqlite {
        return; // the key file is an SQLite convenience; PostgreSQL servers are given a key
    }
    let db = s.db.url.strip_prefix("sqlite://").unwrap();
    let key_file = std::path::Path::new(db).with_file_name("gatehouse.key");
    let meta = std::fs::metadata(&key_file).expect("gatehouse.key next to the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let _ = meta;

    let inline = TestServer::builder()
        .env(
            "GATEHOUSE_SECRET_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .spawn();
    let db = inline.db.url.strip_prefix("sqlite://").unwrap();
    assert!(!std::path::Path::new(db)
        .with_file_name("gatehouse.key")
        .exists());
    let jwks = get_json(&inline, "/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env(
            "GATEHOUSE_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .env_remove("GATEHOUSE_SECRET_KEY")
        .env_remove("GATEHOUSE_SECRET_KEY_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GATEHOUSE_SECRET_KEY"), "{stderr}");
}

/// The issuer is one string, byte for byte as configured, with or without a trailing slash (as
/// Auth0's SDKs expect it): the metadata's `issuer`, the access token's and ID token's `iss`,
/// and the audience a client assertion may name all carry it, so openid-client and jose, which
/// compare them exactly, accept the tokens. The endpoints are built without a double slash.
#[tokio::test]
async fn the_issuer_is_the_configured_string_everywhere() {
    for issuer in ["https://auth.example.test", "https://auth.example.test/"] {
        let s = TestServer::builder().args(&["--issuer", issuer]).spawn();
        s.add_refreshing_client("app", "s3cret", &["--scopes", "openid profile"]);
        s.add_user("alice", "pw", &[]);
        for path in METADATA_PATHS {
            let m = get_json(&s, path).await;
            assert_eq!(m["issuer"], issuer, "{path}");
            assert_eq!(
                m["token_endpoint"], "https://auth.example.test/oauth/token",
                "{path}"
            );
            assert_eq!(
                m["jwks_uri"],
                "https://auth.example.test/.well-known/jwks.json"
            );
        }
        let body = s
            .login(("app", "s3cret"), "alice", "pw", Some("openid profile"))
            .await;
        for token in ["access_token", "id_token"] {
            let (_, claims) = jwt_parts(body[token].as_str().unwrap());
            assert_eq!(claims["iss"], issuer, "{token}");
        }
        let info = reply(s.userinfo(body["access_token"].as_str().unwrap()).await)
            .await
            .ok();
        assert!(info["sub"].as_str().is_some(), "{info}");
        let introspected = s
            .introspect(("app", "s3cret"), body["access_token"].as_str().unwrap())
            .await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["iss"], issuer);
    }
}
