//! The whole e2e suite on PostgreSQL: when `GATEHOUSE_TEST_POSTGRES_URL` is set, this test runs
//! this same test binary again with `GATEHOUSE_TEST_BACKEND=postgres`, so a plain
//! `cargo test` covers both back ends without a second copy of any test. Without the variable
//! it prints a visible SKIPPED notice and passes.

use std::io::Write;
use std::process::Command;

use gatehouse_store::testing::postgres_url;

use crate::database::{Backend, BACKEND_VAR};

/// This test's name, skipped in the run it starts.
const NAME: &str = "backends::e2e_suite_also_runs_on_postgres";

#[test]
fn e2e_suite_also_runs_on_postgres() {
    if Backend::current() == Backend::Postgres {
        return; // This run is the PostgreSQL one already.
    }
    let Some(_server) = postgres_url("the e2e suite") else {
        return;
    };
    let out = Command::new(std::env::current_exe().unwrap())
        .env(BACKEND_VAR, "postgres")
        .args(["--skip", NAME])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the e2e suite failed on PostgreSQL:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("test result:"))
        .unwrap_or("no summary");
    // Past the harness's capture, so the second run shows in plain `cargo test` output.
    let _ = writeln!(std::io::stderr(), "\ne2e suite on PostgreSQL: {summary}\n");
    assert!(!summary.contains(" 0 passed"), "nothing ran: {summary}");
}
