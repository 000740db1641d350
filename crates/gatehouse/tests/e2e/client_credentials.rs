//! The client credentials grant (RFC 6749 §4.4) over real HTTP: confidential clients
//! authenticated by Basic, by `client_secret` in the body or by a `private_key_jwt` assertion get
//! an access token for themselves (`sub` = the client id), without a refresh token or an
//! id_token, at every token path; the scope rules of §3.3; `unauthorized_client` for clients
//! without the grant and for requests that do not prove the client; introspection, /userinfo,
//! revocation and client removal of such a token; its metric and audit event; `gatehouse demo`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::admin::{admin_server, put_json};
use crate::events::events;
use crate::keys::{claims, ClientKey};
use crate::server::{reply, TestServer};

/// A client of the client credentials grant only.
const SVC: (&str, &str) = ("svc", "svc-secret");
const CC: (&str, &str) = ("grant_type", "client_credentials");
/// Every path the token endpoint is served at.
const TOKEN_PATHS: [&str; 4] = ["/oauth/token", "/token", "/oauth2/v1/token", "/auth/token"];

/// A server with client `svc` (`client add --grant-types client_credentials`, JWT tokens of
/// 900 s) allowed `reports.read reports.write`, `reports.read` by default.
fn server() -> TestServer {
    let s = admin_server();
    add_service_client(&s, SVC.0, SVC.1, &["--access-token-ttl", "900"]);
    s
}

#[track_caller]
fn add_service_client(s: &TestServer, id: &str, secret: &str, extra: &[&str]) {
    let mut args = vec![
        "--secret",
        secret,
        "--grant-types",
        "client_credentials",
        "--scopes",
        "reports.read reports.write",
        "--default-scopes",
        "reports.read",
    ];
    args.extend_from_slice(extra);
    s.add_client(id, &args);
}

/// A client credentials request at `/oauth/token` with Basic authentication.
async fn with_basic(
    s: &TestServer,
    client: (&str, &str),
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![CC];
    form.extend(scope.map(|scope| ("scope", scope)));
    s.post_form("/oauth/token", Some(client), &form).await
}

/// A client credentials request that must succeed; the token response.
async fn client_token(s: &TestServer, client: (&str, &str), scope: Option<&str>) -> Value {
    reply(with_basic(s, client, scope).await)
        .await
        .token_response()
}

/// The access token of a token response.
fn access_token(body: &Value) -> &str {
    body["access_token"].as_str().unwrap()
}

/// Asserts RFC 6749 §4.4.3: a Bearer access token with the granted `scope` and the client's
/// lifetime, and neither a refresh token nor an id_token; a JWT's `sub` and `client_id` are the
/// client's id.
#[track_caller]
fn assert_client_token(body: &Value, client_id: &str, scope: &str, ttl: u64) {
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["scope"], scope, "{body}");
    assert_eq!(body["expires_in"], ttl, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
    let (_, claims) = crate::jwt_parts(access_token(body));
    assert_eq!(claims["sub"], client_id);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["scope"], scope);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        ttl as i64
    );
}

/// RFC 6749 §4.4.2 with HTTP Basic (§2.3.1) and with `client_secret` in the body, at each of
/// the four token paths in its product's request shape: the client's own token, without a
/// refresh token or an id_token, of its defaults when no scope is asked for.
#[tokio::test]
async fn basic_and_body_secrets_get_a_client_token_at_every_token_path() {
    let s = server();
    let body = client_token(&s, SVC, None).await;
    assert_client_token(&body, "svc", "reports.read", 900);

    for path in TOKEN_PATHS {
        // Basic, as a form.
        let form = [CC, ("scope", "reports.read reports.write")];
        let resp = s.post_form(path, Some(SVC), &form).await;
        let body = reply(resp).await.token_response();
        assert_client_token(&body, "svc", "reports.read reports.write", 900);
        // The secret in the body, as JSON (Aidbox's shape, accepted on every path).
        let json_body = json!({
            "grant_type": "client_credentials", "client_id": "svc", "client_secret": "svc-secret"
        });
        let resp = s
            .http
            .post(s.url(path))
            .json(&json_body)
            .send()
            .await
            .unwrap();
        let body = reply(resp).await.token_response();
        assert_client_token(&body, "svc", "reports.read", 900);
    }
}

/// RFC 7523 §2.2: a client that authenticates with a `private_key_jwt` assertion (and has no
/// secret at all) gets a client token.
#[tokio::test]
async fn a_private_key_jwt_client_gets_a_client_token() {
    let s = TestServer::spawn();
    let key = ClientKey::ed25519("k1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, key.jwks().to_string()).unwrap();
    s.add_client(
        "batch",
        &[
            "--jwks-file",
            path.to_str().unwrap(),
            "--token-endpoint-auth-method",
            "private_key_jwt",
            "--grant-types",
            "client_credentials",
            "--scopes",
            "reports.read",
        ],
    );
    let aud = s.url("/oauth2/v1/token");
    let assertion = key.sign(&claims("batch", &aud, 60));
    let form = [
        CC,
        ("scope", "reports.read"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let resp = s.post_form("/oauth2/v1/token", None, &form).await;
    let body = reply(resp).await.token_response();
    assert_client_token(&body, "batch", "reports.read", 3600);
}

/// RFC 6749 §3.3: the scope asked for when the client may have all of it, the client's
/// defaults when none is asked for, and `invalid_scope` (400) when any of it is beyond the
/// client's scopes (as the password grant answers), issuing nothing.
#[tokio::test]
async fn the_scope_is_the_requested_within_the_clients_or_invalid_scope() {
    let s = server();
    let body = client_token(&s, SVC, Some("reports.write")).await;
    assert_client_token(&body, "svc", "reports.write", 900);
    let body = client_token(&s, SVC, None).await;
    assert_eq!(body["scope"], "reports.read");
    for beyond in ["admin", "reports.read admin"] {
        reply(with_basic(&s, SVC, Some(beyond)).await)
            .await
            .oauth_error(400, "invalid_scope");
    }
}

/// RFC 6749 §5.2 `unauthorized_client` (400): a confidential client not allowed the grant; a
/// client of only client_credentials asking for the password or refresh_token grant; and, as
/// RFC 6749 §4.4 admits only confidential clients that authenticate (§2.1, §3.2.1), a public
/// client allowed the grant, and a confidential client allowed it whose secret is not required
/// (admin API) sending its `client_id` alone. Neither of those two is `invalid_client`: they
/// are known clients that passed the checks their registration asks for.
#[tokio::test]
async fn clients_without_the_grant_or_without_proof_are_unauthorized() {
    let s = server();
    s.add_client("web", &["--secret", "web-secret"]);
    reply(with_basic(&s, ("web", "web-secret"), None).await)
        .await
        .oauth_error(400, "unauthorized_client");

    let password = s.password_grant(SVC, "nobody", "whatever", None).await;
    reply(password)
        .await
        .oauth_error(400, "unauthorized_client");
    let refresh = s.refresh(SVC, "no-such-refresh-token", None).await;
    reply(refresh).await.oauth_error(400, "unauthorized_client");

    s.add_client(
        "public-svc",
        &[
            "--grant-types",
            "client_credentials",
            "--scopes",
            "reports.read",
        ],
    );
    let form = [CC, ("client_id", "public-svc")];
    let resp = s.post_form("/oauth/token", None, &form).await;
    reply(resp).await.oauth_error(400, "unauthorized_client");

    // The admin API accepts the grant; a client without a required secret sends its id alone.
    let lax = json!({
        "secret": "lax-secret", "grant_types": ["client_credentials"], "scopes": ["reports.read"],
        "auth": {"password": {"secret_required": false}}
    });
    let (status, body) = put_json(&s, "/Client/lax", &lax).await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(body["grant_types"], json!(["client_credentials"]));
    let form = [CC, ("client_id", "lax")];
    let resp = s.post_form("/oauth/token", None, &form).await;
    reply(resp).await.oauth_error(400, "unauthorized_client");
    // With its secret, the same client gets its token.
    client_token(&s, ("lax", "lax-secret"), None).await;
}

/// RFC 7662 §2.2: a client token introspects active with the client as `sub`, no `username`
/// and no session; OpenID Connect Core §5.3: /userinfo refuses it (401 invalid_token), as it
/// has no user, even when `openid` was granted. The same for an opaque token.
#[tokio::test]
async fn a_client_token_introspects_as_the_client_and_userinfo_refuses_it() {
    let s = server();
    add_service_client(
        &s,
        "svc-opaque",
        "opaque-secret",
        &["--token-format", "opaque"],
    );
    s.add_client(
        "svc-oidc",
        &[
            "--secret",
            "oidc-secret",
            "--grant-types",
            "client_credentials",
            "--scopes",
            "openid reports.read",
        ],
    );
    let jwt = client_token(&s, SVC, None).await;
    let opaque = client_token(&s, ("svc-opaque", "opaque-secret"), None).await;
    assert_eq!(access_token(&opaque).split('.').count(), 1, "{opaque}");
    let oidc = client_token(&s, ("svc-oidc", "oidc-secret"), Some("openid")).await;
    assert!(oidc.get("id_token").is_none(), "{oidc}");
    let cases = [
        (SVC, &jwt),
        (("svc-opaque", "opaque-secret"), &opaque),
        (("svc-oidc", "oidc-secret"), &oidc),
    ];
    for (client, body) in cases {
        let at = access_token(body);
        let found = s.introspect(client, at).await;
        assert_eq!(found["active"], true, "{found}");
        assert_eq!(found["sub"], client.0);
        assert_eq!(found["client_id"], client.0);
        assert_eq!(found["token_type"], "Bearer");
        assert_eq!(found["scope"], body["scope"]);
        for absent in ["username", "sid", "amr"] {
            assert!(found.get(absent).is_none(), "{absent} in {found}");
        }
        // Another client learns nothing of it.
        let foreign = s.introspect(("svc-oidc", "oidc-secret"), at).await;
        if client.0 != "svc-oidc" {
            assert_eq!(foreign, json!({"active": false}));
        }
        let refused = reply(s.userinfo(at).await).await;
        refused.oauth_error(401, "invalid_token");
        assert!(refused.challenge().starts_with("Bearer"));
    }
}

/// RFC 7009 §2.1: a revoked client token introspects inactive; the client's next token works.
#[tokio::test]
async fn a_revoked_client_token_is_inactive() {
    let s = server();
    let body = client_token(&s, SVC, None).await;
    let at = access_token(&body);
    s.revoke(SVC, at, Some("access_token")).await;
    assert_eq!(s.introspect(SVC, at).await, json!({"active": false}));
    let next = client_token(&s, SVC, None).await;
    assert_eq!(s.introspect(SVC, access_token(&next)).await["active"], true);
}

/// Removing a client removes its client tokens: a client re-created with the same id (and a
/// new secret) finds its predecessor's token inactive, though the JWT's signature still
/// verifies until it expires.
#[tokio::test]
async fn removing_and_re_creating_the_client_kills_its_old_token() {
    let s = server();
    let old = client_token(&s, SVC, None).await;
    let old = access_token(&old).to_owned();
    assert_eq!(s.introspect(SVC, &old).await["active"], true);
    s.cli_ok(&["client", "remove", "svc"], None);
    add_service_client(&s, "svc", "new-secret", &[]);
    assert_eq!(
        s.introspect(("svc", "new-secret"), &old).await,
        json!({"active": false})
    );
    let new = client_token(&s, ("svc", "new-secret"), None).await;
    assert_eq!(
        s.introspect(("svc", "new-secret"), access_token(&new))
            .await["active"],
        true
    );
}

/// The grant is counted under its own `grant_type` label, and each token it issues is one
/// `token_issued` event about the client alone (no user: it is no login).
#[tokio::test]
async fn issued_client_tokens_are_counted_and_recorded() {
    let s = server();
    client_token(&s, SVC, Some("reports.write")).await;
    client_token(&s, SVC, None).await;
    reply(with_basic(&s, SVC, Some("admin")).await)
        .await
        .oauth_error(400, "invalid_scope");

    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let count = |result: &str| -> f64 {
        let series = format!(
            r#"gatehouse_token_requests_total{{grant_type="client_credentials",result="{result}"}} "#
        );
        let line = metrics
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str()));
        line.unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
            .parse()
            .unwrap()
    };
    assert_eq!(count("success"), 2.0);
    assert_eq!(count("invalid_scope"), 1.0);

    let issued: Vec<Value> = events(&s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "token_issued")
        .collect();
    assert_eq!(issued.len(), 2, "{issued:?}");
    for event in &issued {
        assert_eq!(event["client_id"], "svc", "{event}");
        assert!(event.get("user").is_none_or(Value::is_null), "{event}");
        assert_eq!(event["detail"]["grant_type"], "client_credentials");
    }
    let scopes: Vec<&str> = issued
        .iter()
        .map(|e| e["detail"]["scope"].as_str().unwrap())
        .collect();
    assert!(scopes.contains(&"reports.write") && scopes.contains(&"reports.read"));
    assert!(!events(&s, &[]).iter().any(|e| e["kind"] == "login_success"));
}

/// `gatehouse demo` prints a client credentials command for its machine client; run as printed
/// (with curl), it gets a client token of the scope it asks for.
#[tokio::test]
async fn the_demos_client_credentials_command_works_as_printed() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is needed to run the demo's printed commands");
    }
    let mut demo = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(demo.stdout.take().unwrap());
    let mut command = None;
    let mut lines = stdout.lines();
    while let Some(line) = lines.next() {
        let line = line.unwrap();
        if line.starts_with("# Machine to machine") {
            let first = lines.next().unwrap().unwrap();
            let second = lines.next().unwrap().unwrap();
            command = Some(format!("{first}\n{second}"));
            break;
        }
    }
    let command = command.expect("the demo prints a client credentials command");
    let out = Command::new("sh").args(["-c", &command]).output().unwrap();
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(out.status.success(), "{command}");
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_client_token(&body, "demo-service", "contacts.read contacts.write", 3600);
}
