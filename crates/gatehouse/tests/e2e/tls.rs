//! HTTPS with `--tls-cert`/`--tls-key`, and certificate reload on SIGHUP: new connections get
//! the new certificate while an open keep-alive connection keeps working.

use std::path::Path;
use std::time::Duration;

use crate::server::TestServer;

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate PEM, key PEM).
pub fn self_signed() -> (String, String) {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let ck = rcgen::generate_simple_self_signed(names).unwrap();
    (ck.cert.pem(), ck.key_pair.serialize_pem())
}

/// Writes a file the way a certificate tool should: to a temporary name, then renamed.
fn replace(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A client that trusts only `cert_pem`, over rustls.
pub fn trusting(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn serves_https_and_reloads_the_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (cert1, key1) = self_signed();
    replace(&cert_file, &cert1);
    replace(&key_file, &key1);
    let s = TestServer::builder().tls(&cert_file, &key_file).spawn();
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);

    let old = trusting(&cert1);
    let resp = old.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    // Plain HTTP is not served on the TLS port.
    assert!(
        reqwest::get(s.url("/healthz").replace("https://", "http://"))
            .await
            .map_or(true, |r| !r.status().is_success())
    );

    let (cert2, key2) = self_signed();
    replace(&cert_file, &cert2);
    replace(&key_file, &key2);
    s.signal("HUP");

    // New connections see the new certificate once the reload is done.
    let mut reloaded = false;
    for _ in 0..100 {
        if let Ok(r) = trusting(&cert2).get(s.url("/healthz")).send().await {
            assert_eq!(r.status(), 200);
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "the new certificate was never served");
    let fresh_old = trusting(&cert1).get(s.url("/healthz")).send().await;
    assert!(
        fresh_old.is_err(),
        "a new connection still got the old certificate"
    );

    // The connection opened before the reload is still alive: this client trusts only the old
    // certificate, so a new handshake would fail; success means the pooled connection was kept.
    let resp = old.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// A certificate without its key is refused at start-up, before anything is served.
#[test]
fn tls_cert_requires_tls_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent.pem",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

/// `gatehouse demo --tls` serves HTTPS with a certificate it makes and prints: a client that
/// trusts only that printed file gets a token; the file is deleted when the demo stops.
#[tokio::test]
async fn demo_tls_serves_a_certificate_it_prints() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["demo", "--tls", "--listen", "127.0.0.1:0"])
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "256")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .env_remove("GATEHOUSE_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("gatehouse listening on ")
        .unwrap()
        .to_owned();
    assert!(base.starts_with("https://127.0.0.1:"), "{first}");
    // The certificate's path, on the line after the HTTPS notice, then the trust commands.
    let mut printed = Vec::new();
    let mut cert = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if cert.is_none()
            && printed
                .last()
                .is_some_and(|l: &String| l.starts_with("HTTPS"))
        {
            cert = Some(std::path::PathBuf::from(line.trim()));
        }
        let done = line.starts_with("Try each product");
        printed.push(line);
        if done {
            break;
        }
    }
    let text = printed.join("\n");
    let cert = cert.unwrap_or_else(|| panic!("no certificate path in:\n{text}"));
    for var in [
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
    ] {
        assert!(
            text.contains(&format!("{var}='{}'", cert.display())),
            "{var} missing:\n{text}"
        );
    }
    assert!(text.contains("--cacert"), "{text}");

    let pem = std::fs::read_to_string(&cert).unwrap();
    let resp = trusting(&pem)
        .post(format!("{base}/oauth/token"))
        .basic_auth("demo-app", Some("demo-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", "demo@example.com"),
            ("password", "demo-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let (_, claims) = crate::jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["iss"], base, "the issuer is the https address");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    assert!(!cert.exists(), "the certificate outlived the demo");
}
