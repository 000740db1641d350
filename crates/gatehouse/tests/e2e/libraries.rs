//! Real client libraries, unchanged, against the real server over HTTPS (gatehouse's own TLS
//! with a certificate made here): Authlib and requests-oauthlib (Python), openid-client v6,
//! jose, @auth0/auth0-auth-js and the legacy auth0 v4 SDK (Node). Each test runs one script of
//! `tests/clients/` and asserts on the JSON line it prints, and where it matters checks the
//! outcome again over HTTP itself.
//!
//! The libraries come from their registries, pinned (`tests/clients/python/requirements.txt`,
//! `tests/clients/node/package-lock.json`); `.ci/run` installs them under `target/` and points
//! the tests at them with `GATEHOUSE_TEST_PYTHON` (a venv's interpreter) and
//! `GATEHOUSE_TEST_NODE_MODULES` (a `node_modules` directory). Without those variables each test
//! prints a SKIPPED notice and passes. They talk to the HTTP layer only, so they run on SQLite
//! alone: the PostgreSQL rerun of the suite skips them.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use serde_json::{json, Value};

use crate::database::Backend;
use crate::server::{assert_status, json, TestServer};

const PYTHON_VAR: &str = "GATEHOUSE_TEST_PYTHON";
const NODE_VAR: &str = "GATEHOUSE_TEST_NODE_MODULES";
const USER: (&str, &str) = ("alice@example.com", "alice-password");
const APP: (&str, &str) = ("app", "app-secret");
const SCOPES: &str = "openid email offline_access";

/// The Python interpreter of the clients' venv, or `None` (with a notice) when not installed.
pub(crate) fn python() -> Option<PathBuf> {
    static NOTICE: Once = Once::new();
    installed(PYTHON_VAR, &NOTICE, "target/ci-venv/bin/python")
}

/// The `node_modules` of the Node clients, or `None` (with a notice) when not installed.
fn node_modules() -> Option<PathBuf> {
    static NOTICE: Once = Once::new();
    installed(NODE_VAR, &NOTICE, "target/ci-node/node_modules")
}

fn installed(var: &str, notice: &Once, example: &str) -> Option<PathBuf> {
    if Backend::current() == Backend::Postgres {
        return None; // run once, in the SQLite pass: nothing here touches the store's code
    }
    match std::env::var_os(var) {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            notice.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED: client library tests: {var} is not set (e.g. {example}; \
                     .ci/run installs the libraries and sets it) ***\n"
                );
            });
            None
        }
    }
}

pub(crate) fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// A server on HTTPS with a certificate for 127.0.0.1 that only the scripts (and `s.http`)
/// trust, a client `app` of the password and refresh grants, and the user alice.
struct Https {
    s: TestServer,
    dir: tempfile::TempDir,
    cert: PathBuf,
}

impl Https {
    fn spawn(builder: crate::server::Builder, client_args: &[&str]) -> Https {
        let dir = tempfile::tempdir().unwrap();
        let (cert_pem, key_pem) = crate::tls::self_signed();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        let mut s = builder.tls(&cert, &key).spawn();
        s.http = crate::tls::trusting(&cert_pem);
        let mut args = vec!["--scopes", SCOPES];
        args.extend_from_slice(client_args);
        s.add_refreshing_client(APP.0, APP.1, &args);
        s.add_user(USER.0, USER.1, &["--email", USER.0]);
        Https { s, dir, cert }
    }

    /// `host:port`, what the Auth0 SDKs call the domain.
    fn domain(&self) -> &str {
        self.s.base.strip_prefix("https://").unwrap()
    }

    /// The environment every script gets: where the server is, whom to trust, who logs in.
    fn env(&self) -> Vec<(String, String)> {
        let cert = self.cert.to_str().unwrap().to_owned();
        [
            ("GH_ISSUER", self.s.base.as_str()),
            ("GH_DOMAIN", self.domain()),
            ("GH_CLIENT_ID", APP.0),
            ("GH_CLIENT_SECRET", APP.1),
            ("GH_USERNAME", USER.0),
            ("GH_PASSWORD", USER.1),
            ("NODE_EXTRA_CA_CERTS", &cert),
            ("SSL_CERT_FILE", &cert),
            ("REQUESTS_CA_BUNDLE", &cert),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Runs `python/SCRIPT ARGS` with this server's environment plus `extra`.
    async fn python(
        &self,
        python: &Path,
        script: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> Value {
        let mut cmd = tokio::process::Command::new(python);
        cmd.arg(clients_dir().join("python").join(script))
            .args(args);
        run(cmd, self.env(), extra, script).await
    }

    /// Runs `node/SCRIPT ARGS`. Node resolves packages next to the script, so the scripts are
    /// copied into a directory whose `node_modules` links to the installed one.
    async fn node(
        &self,
        modules: &Path,
        script: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> Value {
        let work = self.dir.path().join("node");
        if !work.exists() {
            std::fs::create_dir(&work).unwrap();
            std::os::unix::fs::symlink(modules, work.join("node_modules")).unwrap();
            for entry in std::fs::read_dir(clients_dir().join("node")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "mjs") {
                    std::fs::copy(&path, work.join(path.file_name().unwrap())).unwrap();
                }
            }
        }
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(work.join(script)).args(args);
        run(cmd, self.env(), extra, script).await
    }
}

/// Runs a client script and returns the JSON object on the last line of its standard output,
/// failing the test (with everything the script printed) unless it exited 0 with `"ok": true`.
async fn run(
    mut cmd: tokio::process::Command,
    env: Vec<(String, String)>,
    extra: &[(&str, &str)],
    script: &str,
) -> Value {
    cmd.envs(env)
        .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} ran for over a minute"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert!(
        out.status.success() && report["ok"] == true,
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    report
}

/// An RSA key pair for `private_key_jwt`: the private key as a PKCS#8 PEM file, and the
/// registered JWK Set.
fn rsa_key(dir: &Path, kid: &str) -> (PathBuf, PathBuf) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let jwk = json!({
        "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    });
    let (key_file, jwks_file) = (dir.join("client-key.pem"), dir.join("client-jwks.json"));
    std::fs::write(&key_file, pem.as_bytes()).unwrap();
    std::fs::write(&jwks_file, json!({ "keys": [jwk] }).to_string()).unwrap();
    (key_file, jwks_file)
}

/// A server whose client `app` may authenticate only with `method`: `client_secret_jwt` (its
/// secret sealed under a server key, set through the admin API) or `private_key_jwt` (an RSA
/// key registered with `client add --jwks-file`, its private half in `GH_KEY_FILE`). Returns
/// the server and the extra script environment.
async fn assertion_server(method: &str) -> (Https, Vec<(String, String)>) {
    if method == "client_secret_jwt" {
        let builder = TestServer::builder()
            .env("GATEHOUSE_ADMIN_TOKEN", crate::admin::TOKEN)
            .env("GATEHOUSE_SECRET_KEY", crate::server::TEST_SECRET_KEY);
        let h = Https::spawn(builder, &[]);
        let client = json!({"secret": APP.1, "token_endpoint_auth_method": "client_secret_jwt",
            "grant_types": ["password", "refresh_token"], "scopes": SCOPES});
        let (status, body) = crate::admin::put_json(&h.s, "/Client/app", &client).await;
        assert_status(status, &body, 200);
        return (h, Vec::new());
    }
    let dir = tempfile::tempdir().unwrap();
    let (key_file, jwks_file) = rsa_key(dir.path(), "rsa-1");
    let h = Https::spawn(
        TestServer::builder(),
        &[
            "--jwks-file",
            jwks_file.to_str().unwrap(),
            "--token-endpoint-auth-method",
            "private_key_jwt",
        ],
    );
    let key_copy = h.dir.path().join("client-key.pem");
    std::fs::copy(&key_file, &key_copy).unwrap();
    let extra = vec![
        (
            "GH_KEY_FILE".to_owned(),
            key_copy.to_str().unwrap().to_owned(),
        ),
        ("GH_KID".to_owned(), "rsa-1".to_owned()),
    ];
    (h, extra)
}

fn borrowed(extra: &[(String, String)]) -> Vec<(&str, &str)> {
    extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Authlib's `OAuth2Session`: the password grant (RFC 6749 §4.3), refresh (§6), introspection
/// (RFC 7662) and revocation (RFC 7009), with HTTP Basic client authentication.
#[tokio::test]
async fn authlib_password_refresh_introspect_revoke() {
    let Some(python) = python() else { return };
    let h = Https::spawn(TestServer::builder(), &[]);
    let out = h
        .python(&python, "authlib_client.py", &["client_secret_basic"], &[])
        .await;
    assert_eq!(out["login"]["token_type"], "Bearer", "{out}");
    assert_eq!(out["rotated"], true, "{out}");
    assert_eq!(out["introspection"]["status"], 200, "{out}");
    assert_eq!(out["introspection"]["body"]["active"], true, "{out}");
    assert_eq!(out["introspection"]["body"]["username"], USER.0, "{out}");
    assert_eq!(out["revoke_status"], 200, "{out}");
    assert_eq!(out["after_revocation"], json!({"active": false}), "{out}");
}

/// Authlib's `ClientSecretJWT` and `PrivateKeyJWT` with their defaults (RFC 7523 §2.2): HS256
/// with the secret, RS256 with the client's key, `exp` an hour after `iat`, which the server
/// accepts (`--assertion-max-lifetime` defaults to 3600).
#[tokio::test]
async fn authlib_client_assertions_with_their_defaults() {
    let Some(python) = python() else { return };
    for method in ["client_secret_jwt", "private_key_jwt"] {
        let (h, extra) = assertion_server(method).await;
        let out = h
            .python(&python, "authlib_client.py", &[method], &borrowed(&extra))
            .await;
        assert_eq!(out["login"]["token_type"], "Bearer", "{method}: {out}");
        assert_eq!(out["assertion_lifetimes"], json!([3600]), "{method}: {out}");
    }
}

/// requests-oauthlib with oauthlib's `LegacyApplicationClient`: `fetch_token` (the password
/// grant) and `refresh_token`, then a userinfo call with the session's bearer token.
#[tokio::test]
async fn requests_oauthlib_legacy_application_client() {
    let Some(python) = python() else { return };
    let h = Https::spawn(TestServer::builder(), &[]);
    let out = h
        .python(&python, "requests_oauthlib_client.py", &[], &[])
        .await;
    assert_eq!(out["rotated"], true, "{out}");
    assert_eq!(out["userinfo_status"], 200, "{out}");
    assert_eq!(out["userinfo"]["email"], USER.0, "{out}");
}

/// openid-client v6: discovery (RFC 8414), the password grant through `genericGrantRequest`,
/// `refreshTokenGrant`, `fetchUserInfo`, `tokenIntrospection` and `tokenRevocation`, with each
/// client authentication it offers that gatehouse supports.
#[tokio::test]
async fn openid_client_discovery_password_refresh_userinfo_introspect_revoke() {
    let Some(modules) = node_modules() else {
        return;
    };
    for method in [
        "client_secret_basic",
        "client_secret_jwt",
        "private_key_jwt",
    ] {
        let (h, extra) = if method == "client_secret_basic" {
            (Https::spawn(TestServer::builder(), &[]), Vec::new())
        } else {
            assertion_server(method).await
        };
        let out = h
            .node(&modules, "openid_client.mjs", &[method], &borrowed(&extra))
            .await;
        assert_eq!(out["issuer"], h.s.base, "{method}: {out}");
        assert_eq!(out["id_token_iss"], h.s.base, "{method}: {out}");
        assert_eq!(out["refresh_token_rotated"], true, "{method}: {out}");
        assert_eq!(out["userinfo"]["email"], USER.0, "{method}: {out}");
        assert_eq!(
            out["userinfo"]["sub"], out["id_token_sub"],
            "{method}: {out}"
        );
        assert_eq!(out["introspection"]["active"], true, "{method}: {out}");
        assert_eq!(out["after_revocation"]["active"], false, "{method}: {out}");
        let lifetimes = out["assertion_lifetimes"].as_array().unwrap();
        if method == "client_secret_basic" {
            assert!(lifetimes.is_empty(), "{out}");
        } else {
            // A fresh assertion on each authenticated request: login, refresh, introspection,
            // revocation, introspection.
            assert_eq!(lifetimes.len(), 5, "{method}: {out}");
        }
        // The revocation reached the server: the refresh token is dead for everyone.
        let rt = out["refresh_token"].as_str().unwrap();
        if method == "client_secret_basic" {
            let body = h.s.introspect(APP, rt).await;
            assert_eq!(body, json!({"active": false}));
        }
    }
}

/// jose's `jwtVerify` with `createRemoteJWKSet` on the published JWKS (RFC 7517): the id_token
/// (audience the client) and the RFC 9068 access token verify with the discovery issuer; a
/// token with a changed claim does not.
#[tokio::test]
async fn jose_verifies_the_id_token_and_access_token_against_the_jwks() {
    let Some(modules) = node_modules() else {
        return;
    };
    let h = Https::spawn(TestServer::builder(), &[]);
    let tokens = h.s.login(APP, USER.0, USER.1, Some("openid email")).await;
    let extra = [
        ("GH_ID_TOKEN", tokens["id_token"].as_str().unwrap()),
        ("GH_ACCESS_TOKEN", tokens["access_token"].as_str().unwrap()),
        ("GH_ACCESS_AUDIENCE", APP.0),
    ];
    let out = h.node(&modules, "jose_verify.mjs", &[], &extra).await;
    assert_eq!(out["id_token"]["iss"], h.s.base, "{out}");
    assert_eq!(out["id_token"]["sub"], out["access_token"]["sub"], "{out}");
    assert_eq!(out["access_token"]["aud"], APP.0, "{out}");
    assert_eq!(
        out["tampered"], "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
        "{out}"
    );
}

/// The worked example of docs/claims.md: a resource server verifies the access token with jose
/// against the JWKS and reads the `tenant` (a static value) and `roles` (the user's roles)
/// claims the client maps.
#[tokio::test]
async fn jose_reads_the_mapped_tenant_and_roles_claims() {
    let Some(modules) = node_modules() else {
        return;
    };
    let claims = [
        "--claim",
        "tenant=value:acme",
        "--claim",
        "roles=roles;in=access_token,introspection",
    ];
    let h = Https::spawn(TestServer::builder(), &claims);
    h.s.cli_ok(
        &[
            "user",
            "update",
            USER.0,
            "--role",
            "gatehouse:admin",
            "--role",
            "billing",
        ],
        None,
    );
    let tokens = h.s.login(APP, USER.0, USER.1, Some("openid")).await;
    let extra = [("GH_ACCESS_TOKEN", tokens["access_token"].as_str().unwrap())];
    let out = h.node(&modules, "jose_claims.mjs", &[], &extra).await;
    assert_eq!(out["tenant"], "acme", "{out}");
    assert_eq!(out["roles"], json!(["gatehouse:admin", "billing"]), "{out}");
    assert_eq!(out["is_admin"], true, "{out}");
}

/// @auth0/auth0-auth-js `AuthClient`: `getTokenByPassword`, `getTokenByRefreshToken`,
/// `getUserInfo` (with the subject check) and `revokeToken`, after which the refresh token is
/// refused.
#[tokio::test]
async fn auth0_auth_js_password_refresh_userinfo_revoke() {
    let Some(modules) = node_modules() else {
        return;
    };
    let h = Https::spawn(TestServer::builder(), &[]);
    let out = h
        .node(&modules, "auth0_auth_js.mjs", &["password"], &[])
        .await;
    assert_eq!(out["iss"], h.s.base, "{out}");
    assert_eq!(out["rotated"], true, "{out}");
    assert_eq!(out["userinfo"]["sub"], out["sub"], "{out}");
    assert_eq!(out["userinfo"]["email"], USER.0, "{out}");
    assert_eq!(out["after_revocation"], "invalid_grant", "{out}");
}

/// @auth0/auth0-auth-js `AuthClient.mfa` on a client that requires a second factor: a login
/// answered `mfa_required`, `enrollAuthenticator` (otp) and `verify` (the `mfa-otp` grant) with
/// the first code; then a second login, `listAuthenticators`, `challengeAuthenticator`, `verify`.
#[tokio::test]
async fn auth0_auth_js_mfa_enrol_challenge_verify() {
    let Some(modules) = node_modules() else {
        return;
    };
    let h = Https::spawn(TestServer::builder(), &["--mfa", "required"]);
    let out = h.node(&modules, "auth0_auth_js.mjs", &["mfa"], &[]).await;
    assert_eq!(out["enrolment"]["authenticatorType"], "otp", "{out}");
    assert!(out["enrolment"]["barcodeUri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    assert_eq!(
        out["enrolled"]["amr"],
        json!(["pwd", "otp", "mfa"]),
        "{out}"
    );
    assert_eq!(out["enrolled"]["refresh"], true, "{out}");
    // The otp factor and, as with Auth0, the recovery code handed out at enrolment.
    let types: Vec<&Value> = out["authenticators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["active"] == true)
        .map(|a| &a["authenticatorType"])
        .collect();
    assert_eq!(types, [&json!("otp"), &json!("recovery-code")], "{out}");
    assert_eq!(out["challenge"]["challengeType"], "otp", "{out}");
    assert_eq!(out["verified"]["sub"], out["enrolled"]["sub"], "{out}");
    assert_eq!(out["verified"]["access"], true, "{out}");
}

/// The SDK's own sequence right after enrolment: `enrollAuthenticator`, then
/// `challengeAuthenticator` before any code was accepted, then `verify`.
#[tokio::test]
async fn auth0_auth_js_mfa_challenge_right_after_enrolment() {
    let Some(modules) = node_modules() else {
        return;
    };
    let h = Https::spawn(TestServer::builder(), &["--mfa", "required"]);
    let out = h
        .node(&modules, "auth0_auth_js.mjs", &["mfa-challenge-first"], &[])
        .await;
    assert_eq!(out["challenge"]["challengeType"], "otp", "{out}");
    assert_eq!(
        out["verified"]["amr"],
        json!(["pwd", "otp", "mfa"]),
        "{out}"
    );
}

/// `mfa.deleteAuthenticator` (`DELETE /mfa/authenticators/{id}`) removes the factor when given
/// the access token of a login that passed it; the `mfa_token` alone is refused (`access_denied`).
#[tokio::test]
async fn auth0_auth_js_mfa_delete_authenticator() {
    let Some(modules) = node_modules() else {
        return;
    };
    let h = Https::spawn(TestServer::builder(), &["--mfa", "required"]);
    let out = h
        .node(&modules, "auth0_auth_js.mjs", &["mfa-delete"], &[])
        .await;
    let otp = |list: &Value| {
        let list = list.as_array().unwrap();
        list.iter()
            .filter(|a| a["authenticatorType"] == "otp")
            .count()
    };
    assert_eq!(otp(&out["before"]), 1, "{out}");
    assert_eq!(out["with_mfa_token"], "access_denied", "{out}");
    assert_eq!(otp(&out["after"]), 0, "{out}");
}

/// A free port on 127.0.0.1, so that the issuer can name it before the server starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The legacy auth0 v4 `AuthenticationClient` (which validates id_tokens itself: RS256 or HS256
/// only, `iss` exactly `https://DOMAIN/`): `oauth.passwordGrant`, `oauth.refreshTokenGrant`,
/// `UserInfoClient.getUserInfo`, `oauth.revokeRefreshToken`. The server signs with its default
/// algorithm and the client asks for RS256 id_tokens (`id_token_signed_response_alg`).
#[tokio::test]
async fn auth0_v4_password_refresh_userinfo_revoke() {
    let Some(modules) = node_modules() else {
        return;
    };
    auth0_v4(&modules, &[], Some("RS256")).await;
}

/// The same calls of auth0 v4 against a server that signs everything with RS256
/// (`--signing-alg RS256`), which v4 accepts without a per-client setting.
#[tokio::test]
async fn auth0_v4_against_an_rs256_server() {
    let Some(modules) = node_modules() else {
        return;
    };
    auth0_v4(&modules, &["--signing-alg", "RS256"], None).await;
}

async fn auth0_v4(modules: &Path, server_args: &[&str], id_token_alg: Option<&str>) {
    let port = free_port();
    let issuer = format!("https://127.0.0.1:{port}/");
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--issuer", issuer.as_str()];
    args.extend_from_slice(server_args);
    let builder = TestServer::builder()
        .listen(&listen)
        .env("GATEHOUSE_ADMIN_TOKEN", crate::admin::TOKEN)
        .args(&args);
    let h = Https::spawn(builder, &[]);
    if let Some(alg) = id_token_alg {
        let client = json!({"secret": APP.1, "grant_types": ["password", "refresh_token"],
            "scopes": SCOPES, "id_token_signed_response_alg": alg});
        let (status, body) = crate::admin::put_json(&h.s, "/Client/app", &client).await;
        assert_status(status, &body, 200);
    }
    let out = h.node(modules, "auth0_v4.mjs", &[], &[]).await;
    assert_eq!(out["id_token_alg"], "RS256", "{out}");
    assert_eq!(out["iss"], issuer, "{out}");
    assert_eq!(out["refreshed"], true, "{out}");
    assert_eq!(out["userinfo"]["sub"], out["sub"], "{out}");
    assert_eq!(out["revoke_status"], 200, "{out}");
    assert_eq!(out["after_revocation"], "invalid_grant", "{out}");
    // Discovery names the same issuer, byte for byte.
    let resp = h.s.get("/.well-known/openid-configuration", &[]).await;
    let (_, _, body) = json(resp).await;
    assert_eq!(body["issuer"], issuer);
}
