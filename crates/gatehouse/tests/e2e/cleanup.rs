//! The expiry sweep that `serve` runs in the background (`--cleanup-interval`).

use std::time::Duration;

use crate::server::TestServer;

/// The sweep runs every `--cleanup-interval` seconds next to requests, and leaves clients,
/// users and keys alone (they never expire).
#[tokio::test]
async fn the_expiry_sweep_runs_every_interval() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let s = TestServer::builder()
        .args(&["--cleanup-interval", "1"])
        .env("GATEHOUSE_LOG_LEVEL", "gatehouse=debug")
        .log_file(&log)
        .spawn();
    s.add_client("app", &["--secret", "s"]);
    s.add_user("ivy", "pw", &[]);
    let sweeps = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("expiry sweep: nothing expired")
            .count()
    };
    // Two sweeps take about two seconds; allow ten on a loaded machine.
    for _ in 0..100 {
        if sweeps() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sweeps() >= 2, "fewer than two sweeps in the log");
    s.login(("app", "s"), "ivy", "pw", None).await;
}

/// An interval of zero is refused at start-up.
#[tokio::test]
async fn a_zero_cleanup_interval_is_refused() {
    let s = TestServer::spawn();
    let out = s.cli(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cleanup-interval",
            "0",
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cleanup interval must be at least 1 second"),
        "{stderr}"
    );
}
