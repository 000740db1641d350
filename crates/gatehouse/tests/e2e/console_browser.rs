//! The web console in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven by Selenium from `tests/clients/python/console_browser.py`: sign-in with password and
//! a TOTP code the script computes from the enrolment secret, a client created in the console
//! that then works with the password grant over HTTP, a user found among many whose password is
//! reset and sessions ended, events filtered, a key rotated, a viewer who cannot change anything
//! (not even with a forged form), and the admin's session at phone width. A failed scenario
//! saves screenshots of its pages under `target/console-browser-failures/`. With
//! `GATEHOUSE_CONSOLE_SCREENSHOTS=docs/console` the run also refreshes the documentation's
//! screenshots. Skipped, loudly, without `GATEHOUSE_TEST_PYTHON` or without Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::admin::TOKEN as ADMIN_TOKEN;
use crate::console::console_server;
use crate::libraries::{clients_dir, python};

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";
/// The scenarios of the script; each must pass.
const SCENARIOS: usize = 7;

fn chromium() -> bool {
    let found = Path::new(CHROMIUM).exists() && Path::new(DRIVER).exists();
    if !found {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: console browser tests: {CHROMIUM} or {DRIVER} is missing (apt-get \
             install chromium chromium-driver; .ci/run installs them) ***\n"
        );
    }
    found
}

#[tokio::test]
async fn the_console_works_in_a_real_browser() {
    let Some(python) = python() else { return };
    if !chromium() {
        return;
    }
    let s = console_server(&[]);
    let http = reqwest::Client::new();
    let put = |path: String, body: Value| {
        let req = http.put(s.url(&path)).bearer_auth(ADMIN_TOKEN).json(&body);
        async move { req.send().await.unwrap().status() }
    };
    for i in 0..120 {
        let body = json!({"password": "member-password-1"});
        assert_eq!(
            put(format!("/User/member{i:03}"), body).await,
            StatusCode::CREATED
        );
    }
    let app = json!({"secret": "app-secret", "grant_types": ["password"]});
    assert_eq!(put("/Client/app".into(), app).await, StatusCode::CREATED);
    // A live session of member077, which the browser ends.
    let session: Value = http
        .post(s.url("/oauth/token"))
        .basic_auth("app", Some("app-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", "member077"),
            ("password", "member-password-1"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["access_token"].as_str().unwrap().to_owned();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shots = std::env::var("GATEHOUSE_CONSOLE_SCREENSHOTS")
        .map(|dir| root.join(dir).display().to_string())
        .unwrap_or_default();
    let failures: PathBuf = root.join("target/console-browser-failures");
    let script = clients_dir().join("python/console_browser.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(&s.base)
            .arg(shots)
            .arg(&failures)
            .env("SE_OFFLINE", "true")
            .output()
            .map(|out| (out, s))
    })
    .await
    .unwrap()
    .unwrap();
    let (out, s) = out;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().last().unwrap_or("");
    let result: Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("no result line:\n{stdout}\n{stderr}"));
    assert_eq!(
        result["failed"],
        json!({}),
        "failed scenarios (screenshots in target/console-browser-failures):\n{stderr}"
    );
    assert_eq!(
        result["passed"].as_array().unwrap().len(),
        SCENARIOS,
        "{result}"
    );

    // The session the browser ended is dead over HTTP too.
    let introspected: Value = reqwest::Client::new()
        .post(s.url("/oauth/introspect"))
        .basic_auth("app", Some("app-secret"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], false);
}
