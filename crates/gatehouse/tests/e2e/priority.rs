//! `--runtime-nice`: the async runtime's threads (`gatehouse-rt`) run at the configured nice
//! value above the process's, while the password-hash workers (`gatehouse-hash-N`) and the main
//! thread keep the process's priority. Read from the kernel: /proc/PID/task/TID/{comm,stat}.

use crate::server::{json, TestServer};

/// (thread name, nice value) of every thread of `pid`.
fn threads(pid: u32) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = entry.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap();
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        // Fields after the parenthesised name start at field 3 (state); nice is field 19.
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        let nice: i32 = rest
            .split_whitespace()
            .nth(19 - 3)
            .unwrap()
            .parse()
            .unwrap();
        out.push((comm.trim().to_owned(), nice));
    }
    out
}

/// The nice values of the threads whose name starts with `prefix`; at least one must exist.
fn nice_of(all: &[(String, i32)], prefix: &str) -> Vec<i32> {
    let found: Vec<i32> = all
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, nice)| *nice)
        .collect();
    assert!(!found.is_empty(), "no thread named {prefix}*: {all:?}");
    found
}

async fn check(s: &TestServer, added: i32) {
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "correct horse", &[]);
    let resp = s
        .password_grant(("app", "app-secret"), "alice", "correct horse", None)
        .await;
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");

    let all = threads(s.pid());
    let main = all
        .iter()
        .find(|(name, _)| name == "gatehouse")
        .map(|(_, nice)| *nice)
        .unwrap_or_else(|| panic!("no main thread: {all:?}"));
    let rt = nice_of(&all, "gatehouse-rt");
    assert!(
        rt.len() >= 2,
        "worker threads of the multi-thread runtime: {all:?}"
    );
    for nice in rt {
        assert_eq!(nice, (main + added).min(19), "runtime thread: {all:?}");
    }
    for nice in nice_of(&all, "gatehouse-hash") {
        assert_eq!(
            nice, main,
            "hash worker keeps the process's priority: {all:?}"
        );
    }
}

#[tokio::test]
async fn runtime_threads_run_at_the_configured_nice_value_and_hash_workers_do_not() {
    let s = TestServer::builder()
        .args(&["--runtime-nice", "7", "--hash-workers", "2"])
        .spawn();
    check(&s, 7).await;
}

#[tokio::test]
async fn runtime_nice_from_the_environment() {
    let s = TestServer::builder()
        .env("GATEHOUSE_RUNTIME_NICE", "3")
        .spawn();
    check(&s, 3).await;
}

#[tokio::test]
async fn by_default_every_thread_keeps_the_process_priority() {
    let s = TestServer::builder().spawn();
    check(&s, 0).await;
}

#[tokio::test]
async fn a_nice_value_outside_0_to_19_is_refused_at_startup() {
    let s = TestServer::spawn();
    for bad in ["20", "-1"] {
        let flag = format!("--runtime-nice={bad}");
        let out = s.cli(&["serve", "--listen", "127.0.0.1:0", &flag], None);
        assert!(!out.status.success(), "serve --runtime-nice {bad} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("runtime_nice must be between 0 and 19"),
            "{bad}: {err}"
        );
    }
}
