//! Operations endpoints: `/metrics` (Prometheus text format), `/readyz` against a database that
//! goes away, `X-Request-Id`, and the OpenAPI document covering every served route.

use std::process::Command;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::server::{json, TestServer};

/// The value of one sample line (`name{labels} value`) of a Prometheus exposition.
#[track_caller]
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{metrics}"))
        .parse()
        .unwrap()
}

async fn scrape(s: &TestServer) -> String {
    let resp = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    resp.text().await.unwrap()
}

/// Requests are counted per route pattern and status; password-grant results by reason, with
/// a wrong password and an unknown user under one label; the hash pool and the database pool
/// are sampled; the refresh-reuse counter exists before its first event.
#[tokio::test]
async fn metrics_count_requests_grant_results_and_pools() {
    let s = TestServer::spawn();
    s.add_client("app", &["--secret", "app-secret", "--scopes", "openid"]);
    s.add_user("alice", "correct horse", &[]);
    let ok = s.password_grant(("app", "app-secret"), "alice", "correct horse", None);
    assert_eq!(ok.await.status(), 200);
    let bad = s.password_grant(("app", "app-secret"), "alice", "wrong", None);
    assert_eq!(bad.await.status(), 400);
    let unknown = s.password_grant(("app", "app-secret"), "nobody", "x", None);
    assert_eq!(unknown.await.status(), 400);
    let client = s.password_grant(("app", "nope"), "alice", "correct horse", None);
    assert_eq!(client.await.status(), 401);
    let scope = s.password_grant(
        ("app", "app-secret"),
        "alice",
        "correct horse",
        Some("admin"),
    );
    assert_eq!(scope.await.status(), 400);

    let m = scrape(&s).await;
    let tokens = |result: &str| {
        sample(
            &m,
            &format!(
                r#"gatehouse_token_requests_total{{grant_type="password",result="{result}"}}"#
            ),
        )
    };
    assert_eq!(tokens("success"), 1.0);
    assert_eq!(tokens("invalid_credentials"), 2.0);
    assert_eq!(tokens("invalid_client"), 1.0);
    assert_eq!(tokens("invalid_scope"), 1.0);
    let http = |status: u16| {
        sample(
            &m,
            &format!(
                r#"gatehouse_http_requests_total{{endpoint="/oauth/token",method="POST",status="{status}"}}"#
            ),
        )
    };
    assert_eq!(http(200), 1.0);
    assert_eq!(http(400), 3.0);
    assert_eq!(http(401), 1.0);
    assert!(m.contains(r#"gatehouse_http_request_duration_seconds_bucket{endpoint="/oauth/token",method="POST",status="200",le="0.005"}"#), "{m}");
    assert_eq!(sample(&m, "gatehouse_refresh_reuse_detected_total"), 0.0);
    assert_eq!(sample(&m, "gatehouse_password_hash_queue_depth"), 0.0);
    // Three password checks and at least one client-secret check waited for a worker.
    assert!(
        sample(&m, "gatehouse_password_hash_wait_seconds_count") >= 4.0,
        "{m}"
    );
    // The pool limits of gatehouse-store: 8 connections on SQLite, 16 on PostgreSQL.
    let pool_max = match crate::database::Backend::current() {
        crate::database::Backend::Sqlite => 8.0,
        crate::database::Backend::Postgres => 16.0,
    };
    assert_eq!(sample(&m, "gatehouse_db_pool_max_connections"), pool_max);
    assert!(sample(&m, "gatehouse_db_pool_connections") >= 1.0);
    assert!(m.contains("# TYPE gatehouse_password_hash_wait_seconds histogram"));
}

/// `--metrics-listen` serves `/metrics` on a second address, and nothing else there.
#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let s = TestServer::builder()
        .args(&["--metrics-listen", &addr])
        .spawn();
    let get = |path: &str| s.http.get(format!("http://{addr}{path}")).send();
    let m = get("/metrics").await.unwrap();
    assert_eq!(m.status(), 200);
    assert!(m
        .text()
        .await
        .unwrap()
        .contains("gatehouse_refresh_reuse_detected_total"));
    let other = get("/healthz").await.unwrap();
    assert_eq!(other.status(), 404);
}

/// The request id is taken from `X-Request-Id` when sane, generated otherwise, and echoed.
#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let s = TestServer::spawn();
    let given = s
        .http
        .get(s.url("/healthz"))
        .header("X-Request-Id", "trace-42")
        .send();
    assert_eq!(given.await.unwrap().headers()["x-request-id"], "trace-42");
    let generated = s.http.get(s.url("/nowhere")).send().await.unwrap();
    assert_eq!(generated.status(), 404);
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        id.len() >= 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    let forged = s
        .get("/healthz", &[("X-Request-Id", "a b\"} injected")])
        .await;
    let echoed = forged.headers()["x-request-id"].to_str().unwrap();
    assert!(echoed.chars().all(|c| c.is_ascii_hexdigit()), "{echoed}");
}

/// Every operation in `/openapi.json` is served (no fallback 404, no 405), the document is
/// OpenAPI 3.1, and it lists the routes of the route table, aliases included.
#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    // The admin API exists only with an admin token; without one it answers 404 like any
    // unknown path, and this test could not tell it from an unserved route.
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", "openapi-admin-token-0123456789")
        .spawn();
    let (status, _, doc) = json(s.http.get(s.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/oauth/token",
        "/token",
        "/oauth2/v1/token",
        "/auth/token",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = s
                .http
                .request(method.clone(), s.url(path))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            assert!(
                status != 405 && !body.contains("no such endpoint"),
                "{method} {path} is documented but not served: {status} {body}"
            );
        }
    }
    let token = &paths["/oauth/token"]["post"]["responses"];
    for code in ["200", "400", "401", "413", "503"] {
        assert!(
            token[code].is_object(),
            "token response {code} is undocumented"
        );
    }
}

/// `/readyz` answers 503 while the database is unreachable and 200 once it is back;
/// `/healthz` stays 200 throughout. The server reaches PostgreSQL through a TCP proxy in this
/// test, which is cut and restored (on worker threads: spawning the server blocks this one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_while_the_database_is_unreachable() {
    // Needs a PostgreSQL server to cut off; without one (the plain `cargo test`) it is skipped,
    // with the visible SKIPPED notice, and .ci/run always runs it.
    let Some(admin) = gatehouse_store::testing::postgres_url("the /readyz outage test") else {
        return;
    };
    let db = format!("gatehouse_readyz_{}", std::process::id());
    psql(&admin, &format!("DROP DATABASE IF EXISTS {db}"));
    psql(&admin, &format!("CREATE DATABASE {db}"));
    let upstream = admin
        .rsplit_once('@')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let user = admin
        .split("://")
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_owned();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let proxy = Proxy::start(listener, upstream.clone());
    let url = format!("postgres://{user}@{proxy_addr}/{db}");
    // PostgreSQL has no file to keep a generated server key next to: give one.
    let s = TestServer::builder()
        .env("GATEHOUSE_SECRET_KEY", crate::server::TEST_SECRET_KEY)
        .args(&["--database", &url])
        .spawn();

    let ready = |s: &TestServer| s.http.get(s.url("/readyz")).send();
    let (status, _, body) = json(ready(&s).await.unwrap()).await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("ready"))
    );

    proxy.stop();
    let (status, headers, body) = json(ready(&s).await.unwrap()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(headers["content-type"], "application/json");
    let health = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let proxy = Proxy::start(TcpListener::bind(proxy_addr).await.unwrap(), upstream);
    let (status, _, body) = json(ready(&s).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    drop(s);
    proxy.stop();
    psql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    );
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(url)
        .arg("-qc")
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A TCP forwarder whose `stop` closes the listener and every connection it carries.
struct Proxy {
    accept: JoinHandle<()>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    fn start(listener: TcpListener, upstream: String) -> Proxy {
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tracked = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tracked.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Proxy { accept, conns }
    }

    fn stop(self) {
        self.accept.abort();
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }
}

/// A full hash queue sheds requests with 503 (`temporarily_unavailable`, `Retry-After`), and
/// each shed request is counted both as a grant result `overloaded` and in the hash pool's
/// shed counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shed_requests_are_answered_503_and_counted() {
    let s = TestServer::builder()
        .owasp_hashing()
        .args(&["--hash-workers", "1", "--hash-queue", "0"])
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "correct horse", &[]);
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "wrong"),
    ];
    let grants: Vec<_> = (0..8)
        .map(|_| {
            let request = s
                .http
                .post(s.url("/oauth/token"))
                .basic_auth("app", Some("app-secret"));
            tokio::spawn(request.form(&form).send())
        })
        .collect();
    let mut shed = 0;
    for grant in grants {
        let resp = grant.await.unwrap().unwrap();
        let (status, headers, body) = json(resp).await;
        match status.as_u16() {
            400 => assert_eq!(body["error"], "invalid_grant"),
            503 => {
                assert_eq!(body["error"], "temporarily_unavailable");
                assert!(headers.contains_key("retry-after"));
                shed += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        shed > 0,
        "8 concurrent OWASP hashes on one worker with no queue: none was shed"
    );
    let m = scrape(&s).await;
    let overloaded = r#"gatehouse_token_requests_total{grant_type="password",result="overloaded"}"#;
    assert_eq!(sample(&m, overloaded), f64::from(shed));
    assert_eq!(
        sample(&m, "gatehouse_password_hash_shed_total"),
        f64::from(shed)
    );
}

/// Issue 15, finding 5: any token is a valid HTTP method, and each used to become a `method`
/// label value, so a client could grow `/metrics` without bound (3,000 invented methods: 51,000
/// series, a 107 MB scrape). 300 requests with invented methods, on known routes (405) and on
/// invented paths (404), leave the method labels within the fixed set and no invented method
/// or path anywhere in the scrape.
#[tokio::test]
async fn invented_methods_and_paths_add_no_metric_series() {
    let s = TestServer::spawn();
    let _ = s.http.get(s.url("/healthz")).send().await.unwrap();
    let before = scrape(&s).await;
    for i in 0..300 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            "/oauth/token".to_owned()
        } else {
            format!("/invented-path-{i}")
        };
        let resp = s.http.request(method, s.url(&path)).send().await.unwrap();
        assert!([404, 405].contains(&resp.status().as_u16()), "{path}");
    }
    let after = scrape(&s).await;
    assert!(!after.contains("INVENTED"), "an invented method is a label");
    assert!(
        !after.contains("invented-path"),
        "an invented path is a label"
    );
    let fixed = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "other",
    ];
    let series: Vec<&str> = after
        .lines()
        .filter(|l| l.starts_with("gatehouse_http_requests_total{"))
        .collect();
    for line in &series {
        let method = line
            .split("method=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no method label: {line}"));
        assert!(fixed.contains(&method), "{line}");
    }
    // /healthz and /metrics by GET, /oauth/token by an invented method (405): a few series, not
    // one per request.
    assert!(series.len() <= 4, "{series:#?}");
    assert!(
        series
            .iter()
            .any(|l| l.contains("method=\"other\"") && l.contains("status=\"405\"")),
        "{series:#?}"
    );
    println!(
        "scrape: {} bytes before, {} bytes after 300 invented methods; {} request series",
        before.len(),
        after.len(),
        series.len()
    );
}
