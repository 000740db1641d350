//! `TestServer`: the real `gatehouse` binary on an ephemeral port and a fresh database (SQLite,
//! or PostgreSQL with `GATEHOUSE_TEST_BACKEND=postgres`, see `database.rs`): its builder, its
//! process (restart, signals, logs) and typed helpers for the CLI. The HTTP requests it is sent
//! are in `requests.rs`; what comes back is read and asserted on in `reply.rs` (re-exported here).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::database::TestDatabase;
pub use crate::reply::{assert_oauth_error, assert_status, json, reply};

/// Cheap argon2 parameters for tests that are not about hashing; the hashing tests pass
/// `TestServer::builder().owasp_hashing()`.
const CHEAP_ARGON2: [(&str, &str); 3] = [
    ("GATEHOUSE_ARGON2_MEMORY_KIB", "256"),
    ("GATEHOUSE_ARGON2_ITERATIONS", "1"),
    ("GATEHOUSE_ARGON2_PARALLELISM", "1"),
];

/// A permissive password policy for tests that are not about passwords (their fixtures use
/// short and common passwords); the password-policy tests pass
/// `TestServer::builder().nist_passwords()`, which keeps the server's defaults.
const LAX_PASSWORDS: [(&str, &str); 3] = [
    ("GATEHOUSE_PASSWORD_MIN_LENGTH", "1"),
    ("GATEHOUSE_PASSWORD_MIN_LENGTH_MFA", "1"),
    ("GATEHOUSE_BREACHED_PASSWORD_DEFAULT", "off"),
];

/// The Content-Type of an HTML form body (RFC 6749 §4.3.2, appendix B).
pub const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// The server key of PostgreSQL-backed test servers (32 bytes, base64).
pub const TEST_SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub struct TestServer {
    child: Child,
    pub base: String,
    pub db: TestDatabase,
    env: Vec<(String, String)>,
    args: Vec<String>,
    listen: String,
    log_file: Option<std::path::PathBuf>,
    /// Keeps the directory of a `capture_logs` file alive.
    _log_dir: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
}

#[derive(Default)]
pub struct Builder {
    owasp: bool,
    default_admission: bool,
    nist_passwords: bool,
    env: Vec<(String, String)>,
    args: Vec<String>,
    db: Option<TestDatabase>,
    listen: Option<String>,
    log_file: Option<std::path::PathBuf>,
    capture_logs: bool,
}

impl Builder {
    /// Append the server's logs (standard error) to this file.
    pub fn log_file(mut self, path: &std::path::Path) -> Self {
        self.log_file = Some(path.to_owned());
        self
    }

    /// Serve this (possibly shared) database instead of a fresh one.
    pub fn database(mut self, db: &TestDatabase) -> Self {
        self.db = Some(db.clone());
        self
    }

    /// Real OWASP argon2id parameters instead of the cheap test ones.
    /// Keeps the server's password policy (NIST's defaults) and breached-password checks.
    pub fn nist_passwords(mut self) -> Self {
        self.nist_passwords = true;
        self
    }

    pub fn owasp_hashing(mut self) -> Self {
        self.owasp = true;
        self
    }

    /// Keeps the server's default admission to the hash pool (queue depth and overload
    /// interval) instead of the harness's deep, patient one.
    pub fn default_admission(mut self) -> Self {
        self.default_admission = true;
        self
    }

    /// An extra environment variable for the server and every CLI call.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Extra `serve` arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Listens on this address (`[::1]:0`, `[::]:0`) instead of `127.0.0.1:0`.
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = Some(addr.into());
        self
    }

    /// Serves HTTPS with this certificate and key (`--tls-cert`, `--tls-key`).
    pub fn tls(self, cert: &std::path::Path, key: &std::path::Path) -> Self {
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        self.args(&["--tls-cert", cert, "--tls-key", key])
    }

    /// Sends the server's standard error to a file that [`TestServer::log`] reads.
    pub fn capture_logs(mut self) -> Self {
        self.capture_logs = true;
        self
    }

    pub fn spawn(self) -> TestServer {
        let db = self.db.unwrap_or_else(TestDatabase::fresh);
        let mut env: Vec<(String, String)> = Vec::new();
        if !self.owasp {
            env.extend(
                CHEAP_ARGON2
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            );
        }
        if !self.nist_passwords {
            env.extend(
                LAX_PASSWORDS
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            );
        }
        // The default hash queue is sized to the machine's cores, and a queue that stands for
        // 100 ms is cut to one place per worker: tests that fire concurrent logins on a small,
        // busy machine could be shed. Tests that are not about shedding get a deep queue that
        // never counts as standing; the overload tests pass their own flags, which win, or keep
        // the defaults (`default_admission`).
        if !self.default_admission {
            env.push(("GATEHOUSE_HASH_QUEUE".into(), "64".into()));
            env.push((
                "GATEHOUSE_HASH_OVERLOAD_INTERVAL_MS".into(),
                "600000".into(),
            ));
        }
        env.extend(self.env);
        env.push(("GATEHOUSE_DATABASE_URL".into(), db.url.clone()));
        if db.backend == crate::database::Backend::Postgres {
            // PostgreSQL has no file to keep a generated server key next to: give one.
            env.push(("GATEHOUSE_SECRET_KEY".into(), TEST_SECRET_KEY.into()));
        }
        let mut log_file = self.log_file;
        let mut log_dir = None;
        if self.capture_logs && log_file.is_none() {
            let dir = tempfile::tempdir().unwrap();
            log_file = Some(dir.path().join("server.log"));
            log_dir = Some(dir);
        }
        let listen = self.listen.unwrap_or_else(|| "127.0.0.1:0".into());
        let (child, base) = launch(&listen, &env, &self.args, log_file.as_deref());
        TestServer {
            child,
            base,
            db,
            env,
            args: self.args,
            listen,
            log_file,
            _log_dir: log_dir,
            http: reqwest::Client::new(),
        }
    }
}

/// Starts `gatehouse serve` on an ephemeral port of `listen` and waits until it accepts
/// requests.
fn launch(
    listen: &str,
    env: &[(String, String)],
    args: &[String],
    log_file: Option<&std::path::Path>,
) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.arg("serve").arg("--listen").arg(listen).args(args);
    cmd.env_remove("GATEHOUSE_LISTEN")
        .env_remove("GATEHOUSE_ISSUER")
        .envs(env.iter().cloned());
    cmd.stdout(Stdio::piped()).stdin(Stdio::null());
    if let Some(path) = log_file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        cmd.stderr(file);
    } else if std::env::var_os("GATEHOUSE_TEST_LOG").is_none() {
        cmd.stderr(Stdio::null());
    }
    let mut child = cmd.spawn().expect("start gatehouse serve");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("gatehouse listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from serve: {line:?}"))
        .to_owned();
    (child, base)
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub fn spawn() -> TestServer {
        Builder::default().spawn()
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Runs the CLI against this server's database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.args(args).envs(self.env.iter().cloned());
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run gatehouse");
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            // A command refused for its arguments exits before it reads its input: the pipe may
            // be closed already, and its output says what happened.
            if let Err(err) = pipe.write_all(input.as_bytes()) {
                assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");
            }
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// Runs the CLI and asserts it succeeded; returns standard output parsed as JSON.
    #[track_caller]
    pub fn cli_ok(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "gatehouse {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// Runs the CLI and asserts it was refused (a non-zero exit); returns its output.
    #[track_caller]
    pub fn cli_refused(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let out = self.cli(args, stdin);
        assert!(!out.status.success(), "gatehouse {args:?} succeeded");
        out
    }

    /// `client add ID` with extra arguments.
    #[track_caller]
    pub fn add_client(&self, id: &str, extra: &[&str]) -> Value {
        let mut args = vec!["client", "add", id];
        args.extend_from_slice(extra);
        self.cli_ok(&args, None)
    }

    /// `client add ID --secret SECRET --grant-types password,refresh_token` with extra
    /// arguments: a confidential client of the password grant that also gets refresh tokens.
    #[track_caller]
    pub fn add_refreshing_client(&self, id: &str, secret: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            "--secret",
            secret,
            "--grant-types",
            "password,refresh_token",
        ];
        args.extend_from_slice(extra);
        self.add_client(id, &args)
    }

    /// `user add USERNAME --password-stdin` with extra arguments.
    #[track_caller]
    pub fn add_user(&self, username: &str, password: &str, extra: &[&str]) -> Value {
        let mut args = vec!["user", "add", username, "--password-stdin"];
        args.extend_from_slice(extra);
        self.cli_ok(&args, Some(&format!("{password}\n")))
    }

    /// Kills the server with SIGKILL (`kill -9`: no shutdown code runs) and reaps it.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts the server again, same database, environment and arguments, on a new port.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base) = launch(
            &self.listen,
            &self.env,
            &self.args,
            self.log_file.as_deref(),
        );
        self.child = child;
        self.base = base;
    }

    /// What the server wrote to standard error so far (needs `capture_logs` or `log_file`).
    pub fn log(&self) -> String {
        let path = self.log_file.as_ref().expect("spawned with capture_logs");
        std::fs::read_to_string(path).unwrap()
    }

    /// Sends a signal (`HUP`, `TERM`, ...) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
