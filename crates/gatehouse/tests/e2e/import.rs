//! `gatehouse user import`: one user per hash format, each able to log in, and each hash
//! upgraded to argon2id with the server's parameters by that login.

use argon2::password_hash::{PasswordHasher, SaltString};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use serde_json::json;

use crate::server::{assert_status, json, TestServer};

fn pbkdf2_sha256(password: &str, salt: &[u8], iterations: u32, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

fn import_file() -> String {
    let salt = b"0123456789abcdef";
    let ab64 = |b: &[u8]| STANDARD_NO_PAD.encode(b).replace('+', ".");
    let weak_argon2 = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(64, 1, 1, None).unwrap(),
    )
    .hash_password(
        b"pw-argon2",
        &SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap(),
    )
    .unwrap()
    .to_string();
    let kc_hash = pbkdf2_sha256("pw-keycloak", salt, 27500, 64);
    let keycloak = json!({
        "username": "kc-user",
        "email": "kc@example.com",
        "credentials": [{
            "type": "password",
            "secretData": json!({"value": STANDARD.encode(&kc_hash), "salt": STANDARD.encode(salt)}).to_string(),
            "credentialData": json!({"hashIterations": 27500, "algorithm": "pbkdf2-sha256", "additionalParameters": {}}).to_string(),
        }],
    });
    let lines = [
        json!({"username": "bcrypt-2b", "password_hash": bcrypt::hash("pw-bcrypt", 4).unwrap()}),
        json!({"username": "bcrypt-2y", "password_hash": bcrypt::hash_with_result("pw-bcrypt-y", 4).unwrap().format_for_version(bcrypt::Version::TwoY)}),
        json!({"username": "pbkdf2-phc", "password_hash": format!("$pbkdf2-sha256$i=1000,l=32${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(pbkdf2_sha256("pw-phc", salt, 1000, 32)))}),
        json!({"username": "pbkdf2-mcf", "password_hash": format!("$pbkdf2-sha256$1000${}${}", ab64(salt), ab64(&pbkdf2_sha256("pw-mcf", salt, 1000, 32)))}),
        json!({"username": "argon2-weak", "scopes": ["openid"], "password_hash": weak_argon2}),
        keycloak,
    ];
    let mut text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    text.insert(
        2,
        r#"{"username": "broken", "password_hash": "md5:abc"}"#.into(),
    );
    text.join("\n")
}

/// Each format imports, logs in once, and is stored as argon2id with the server's parameters
/// afterwards; the bad line is reported by number; a re-run duplicates nobody.
#[tokio::test]
async fn imported_users_log_in_and_are_rehashed() {
    let s = TestServer::spawn();
    s.add_client("app", &["--secret", "s"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    std::fs::write(&file, import_file()).unwrap();
    let path = file.to_str().unwrap();

    let out = s.cli(&["user", "import", path], None);
    assert!(
        !out.status.success(),
        "a bad line makes the import fail after importing the rest"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3: unsupported hash format"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary,
        json!({"imported": 6, "skipped_existing": 0, "failed": 1})
    );

    for (user, password, before) in [
        ("bcrypt-2b", "pw-bcrypt", "bcrypt"),
        ("bcrypt-2y", "pw-bcrypt-y", "bcrypt"),
        ("pbkdf2-phc", "pw-phc", "pbkdf2-sha256 i=1000"),
        ("pbkdf2-mcf", "pw-mcf", "pbkdf2-sha256 i=1000"),
        ("argon2-weak", "pw-argon2", "argon2id m=64,t=1,p=1"),
        ("kc-user", "pw-keycloak", "pbkdf2-sha256 i=27500"),
    ] {
        let shown = s.cli_ok(&["user", "show", user], None);
        assert!(
            shown["password_scheme"]
                .as_str()
                .unwrap()
                .starts_with(before),
            "{user}: {shown}"
        );
        let (status, _, body) =
            json(s.password_grant(("app", "s"), user, "wrong", None).await).await;
        assert_eq!(status, 400, "{user}: {body}");
        let (status, _, body) =
            json(s.password_grant(("app", "s"), user, password, None).await).await;
        assert_status(status, &body, 200);
        let shown = s.cli_ok(&["user", "show", user], None);
        assert_eq!(
            shown["password_scheme"], "argon2id m=256,t=1,p=1",
            "{user} after login"
        );
        let (status, _, body) =
            json(s.password_grant(("app", "s"), user, password, None).await).await;
        assert_status(status, &body, 200);
    }

    let out = s.cli(&["user", "import", path], None);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary,
        json!({"imported": 0, "skipped_existing": 6, "failed": 1})
    );
    assert_eq!(
        s.cli_ok(&["user", "list"], None).as_array().unwrap().len(),
        6
    );
}

/// A bcrypt hash of cost 31 that no test can afford to compute: a cost-4 hash's salt and digest
/// under cost 31 (checking any password against it takes about a day and a half).
fn bcrypt_31() -> String {
    format!("$2b$31${}", &bcrypt::hash("pw", 4).unwrap()[7..])
}

/// argon2id asking for 4 TiB of memory (m = 2^32 - 1 KiB).
const ARGON2_4TIB: &str = "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn write_lines(dir: &tempfile::TempDir, lines: &[serde_json::Value]) -> String {
    let file = dir.path().join("users.jsonl");
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    file.to_str().unwrap().to_owned()
}

/// Issue 15, finding 6: `user import` refuses hashes whose cost would pin a hash worker (bcrypt
/// 31) or exhaust memory (argon2 m = 4 TiB), each with its line number and the ceiling's flag;
/// the good lines are imported (the import's rule) and the command fails.
#[tokio::test]
async fn hashes_over_the_ceiling_are_refused_with_their_line_numbers() {
    let s = TestServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let path = write_lines(
        &dir,
        &[
            json!({"username": "fine-1", "password_hash": bcrypt::hash("pw", 4).unwrap()}),
            json!({"username": "slow", "password_hash": bcrypt_31()}),
            json!({"username": "huge", "password_hash": ARGON2_4TIB}),
            json!({"username": "fine-2", "password_hash": bcrypt::hash("pw", 4).unwrap()}),
        ],
    );
    let out = s.cli_refused(&["user", "import", &path], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2: bcrypt cost 31 is over the ceiling of 15 (--max-bcrypt-cost)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "line 3: argon2 memory (KiB) 4294967295 is over the ceiling of 262144 \
             (--max-argon2-memory-kib)"
        ),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary,
        json!({"imported": 2, "skipped_existing": 0, "failed": 2})
    );
    let users = s.cli_ok(&["user", "list"], None);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        !names.contains(&"slow") && !names.contains(&"huge"),
        "{names:?}"
    );
}

/// Issue 15, finding 6: a hash over the ceiling that is already stored (imported under a higher
/// ceiling, here planted with `--max-bcrypt-cost 31`) is never computed. Its login answers at
/// once with the wrong password's `invalid_grant` (on a server that computed it, the bcrypt-31
/// request would not finish within the client's timeout), even for the right password, and the
/// event and the log say why. Back under a ceiling that admits it, the same password works.
#[tokio::test]
async fn a_stored_hash_over_the_ceiling_fails_like_a_wrong_password() {
    let s = TestServer::builder()
        .args(&["--max-bcrypt-cost", "4"])
        .capture_logs()
        .spawn();
    s.add_client("app", &["--secret", "s"]);
    s.add_user("plain", "plain-password", &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_lines(
        &dir,
        &[
            json!({"username": "slow", "password_hash": bcrypt_31()}),
            json!({"username": "alice", "password_hash": bcrypt::hash("alice-pw", 5).unwrap()}),
        ],
    );
    let summary = s.cli_ok(&["user", "import", &path, "--max-bcrypt-cost", "31"], None);
    assert_eq!(summary["imported"], 2, "{summary}");

    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let login = |user: &'static str, password: &'static str| {
        let http = http.clone();
        let url = s.url("/oauth/token");
        async move {
            let resp = http
                .post(url)
                .basic_auth("app", Some("s"))
                .form(&[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", password),
                ])
                .send()
                .await
                .expect("an answer, not a hash that never ends");
            json(resp).await
        }
    };
    let (status, _, wrong) = login("plain", "not-the-password").await;
    assert_eq!(status, 400, "{wrong}");
    // Several at once: none of them occupies a hash worker for long.
    let answers = futures::future::join_all(
        [("slow", "any"), ("slow", "other"), ("alice", "alice-pw")].map(|(u, p)| login(u, p)),
    )
    .await;
    for (status, _, body) in &answers {
        assert_eq!(*status, 400, "{body}");
        assert_eq!(body, &wrong, "the same answer as a wrong password");
    }
    let reasons: Vec<(String, String)> = crate::events::events(&s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "login_failure")
        .map(|e| {
            let user = e["user"].as_str().unwrap_or_default().to_owned();
            (user, e["detail"]["reason"].as_str().unwrap().to_owned())
        })
        .collect();
    let over = |u: &str| {
        reasons
            .iter()
            .filter(|(user, r)| user == u && r == "hash_over_ceiling")
            .count()
    };
    assert_eq!((over("slow"), over("alice")), (2, 1), "{reasons:?}");
    assert!(reasons.contains(&("plain".into(), "bad_credentials".into())));
    assert!(s.log().contains("over the cost ceiling"), "{}", s.log());

    // The default ceiling (bcrypt 15) admits alice's cost-5 hash, never the bcrypt-31 one.
    let db = s.db.clone();
    drop(s);
    let s = TestServer::builder().database(&db).spawn();
    let (status, _, body) = json(
        s.password_grant(("app", "s"), "alice", "alice-pw", None)
            .await,
    )
    .await;
    assert_status(status, &body, 200);
    let (status, _, body) = json(s.password_grant(("app", "s"), "slow", "any", None).await).await;
    assert_eq!(status, 400, "{body}");
    let last = crate::events::events(&s, &[]);
    assert!(
        last.iter()
            .any(|e| e["user"] == "slow" && e["detail"]["reason"] == "hash_over_ceiling"),
        "{last:?}"
    );
}
