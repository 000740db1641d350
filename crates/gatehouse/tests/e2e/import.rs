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
