//! `gatehouse blocklist build` (breached-password filter files, NIST SP 800-63B-4 §3.1.1.2) and
//! `serve --password-blocklist`: a good file is served, a damaged one refuses the start.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::server::TestServer;

fn gatehouse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_remove("GATEHOUSE_PASSWORD_BLOCKLIST")
        .env_remove("GATEHOUSE_BREACHED_PASSWORD_API")
        .output()
        .unwrap()
}

/// Runs `blocklist build INPUT --output OUTPUT` and returns its printed report.
#[track_caller]
fn build(input: &Path, output: &Path) -> Value {
    let out = gatehouse(&[
        "blocklist",
        "build",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "blocklist build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The expected size of a filter of `entries` keys: a 56-byte header and 16-bit fingerprints,
/// about 1.13 to 1.2 per entry plus a few segments.
#[track_caller]
fn assert_plausible_size(report: &Value, entries: u64) {
    let bytes = report["bytes"].as_u64().unwrap();
    assert!(bytes > 56 + 2 * entries, "{bytes} bytes for {entries}");
    assert!(
        bytes < 56 + 2 * (2 * entries + 1024),
        "{bytes} bytes for {entries}"
    );
}

#[test]
fn a_filter_is_built_from_plain_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("passwords.txt");
    let mut list: String = (0..5000).map(|i| format!("leaked-{i}\n")).collect();
    list.push_str("hunter2\r\nhunter2\n\n");
    std::fs::write(&input, list).unwrap();
    let output = dir.path().join("passwords.filter");

    let report = build(&input, &output);
    assert_eq!(report["passwords"], 5002);
    assert_eq!(report["hashes"], 0);
    assert_eq!(report["entries"], 5001, "duplicates count once");
    assert_eq!(report["false_positive_rate"], 1.0 / 65536.0);
    assert_eq!(
        report["bytes"].as_u64().unwrap(),
        std::fs::metadata(&output).unwrap().len()
    );
    assert_plausible_size(&report, 5001);
}

/// Have I Been Pwned's download (`SHA1HEX:COUNT`, upper case, CRLF) needs no passwords; its
/// lines and plain ones may be mixed.
#[test]
fn a_filter_is_built_from_a_hibp_download() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir
        .path()
        .join("pwned-passwords-sha1-ordered-by-hash-v8.txt");
    let mut list = String::new();
    for i in 0..3000 {
        let hash = Sha1::digest(format!("pwned-{i}").as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02X}")).collect();
        list.push_str(&format!("{hex}:{}\r\n", i + 1));
    }
    list.push_str("not a hash line\n");
    std::fs::write(&input, list).unwrap();
    let output = dir.path().join("pwned.filter");

    let report = build(&input, &output);
    assert_eq!(report["hashes"], 3000);
    assert_eq!(report["passwords"], 1);
    assert_eq!(report["entries"], 3001);
    assert_plausible_size(&report, 3001);
}

#[test]
fn a_missing_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = gatehouse(&[
        "blocklist",
        "build",
        dir.path().join("missing.txt").to_str().unwrap(),
        "--output",
        dir.path().join("out.filter").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.txt"));
}

/// A file that is not a filter (here the password list itself) refuses the start, naming the
/// option, the file and the cause, before anything is served.
#[test]
fn serve_refuses_a_damaged_blocklist() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("passwords.txt");
    std::fs::write(&bad, "password\n123456\n").unwrap();
    let db = format!("sqlite://{}", dir.path().join("g.db").display());
    let out = gatehouse(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db,
        "--password-blocklist",
        bad.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "serve started with a damaged blocklist"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--password-blocklist")
            && stderr.contains("passwords.txt")
            && stderr.contains("not a gatehouse blocklist file"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("g.db").exists(),
        "the database was touched"
    );

    let missing = dir.path().join("missing.filter");
    let out = gatehouse(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db,
        "--password-blocklist",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening the filter file"));
}

/// A good filter file is accepted and the server serves.
#[tokio::test]
async fn serve_starts_with_a_good_blocklist() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("passwords.txt");
    std::fs::write(&input, "hunter2\n").unwrap();
    let filter = dir.path().join("passwords.filter");
    build(&input, &filter);
    let server = TestServer::builder()
        .args(&["--password-blocklist", filter.to_str().unwrap()])
        .spawn();
    let status = reqwest::get(server.url("/healthz")).await.unwrap().status();
    assert!(status.is_success(), "{status}");
}
