//! `gatehouse user import`: one JSON object per line, for teams moving off another server.
//!
//! ```json
//! {"username": "ann", "email": "ann@example.com", "phone": "+1555", "scopes": "openid email",
//!  "password_hash": "$2b$12$..."}
//! {"username": "bob", "credentials": [{"type": "password",
//!   "secretData": "{\"value\":\"...\",\"salt\":\"...\"}",
//!   "credentialData": "{\"hashIterations\":27500,\"algorithm\":\"pbkdf2-sha256\"}"}]}
//! ```
//!
//! `password_hash` is an argon2 PHC string, bcrypt, or PBKDF2 in PHC or passlib MCF form;
//! `credentials` is Keycloak's export (its `secretData` and `credentialData` may be JSON text, as
//! Keycloak writes them, or objects); `password` is a plaintext password, held to the password
//! policy like any password set (a hash cannot be judged: its user's first login asks the
//! breached lists). `scopes` is a space-separated string or an array. `attributes` (a JSON
//! object) and `roles` (an array of strings) are optional and held to the same bounds as in the
//! admin API (see [`crate::claims::profile`]):
//!
//! ```json
//! {"username": "cy", "password": "...", "attributes": {"department": "sales"},
//!  "roles": ["gatehouse:viewer"]}
//! ```

use secrecy::SecretString;
use serde_json::Value;

use crate::claims::{Attributes, Roles};
use crate::hash_ceiling::HashCeiling;
use crate::legacy_hash;
use crate::scope::ScopeSet;
use crate::user::Username;

/// The password of an import line.
#[derive(Debug, Clone)]
pub enum ImportedPassword {
    /// A hash from another system (see [`legacy_hash::normalize`]), under the cost ceiling.
    Hash(String),
    /// A plaintext password, to be checked against the policy and hashed.
    Plain(SecretString),
}

/// One user read from an import line, ready to store.
#[derive(Debug, Clone)]
pub struct ImportedUser {
    /// Normalized username.
    pub username: Username,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Allowed scopes; `None` for whatever the client allows.
    pub scopes: Option<ScopeSet>,
    /// The password, as a hash or as plaintext.
    pub password: ImportedPassword,
    /// Attributes, for clients' claim mappers.
    pub attributes: Attributes,
    /// Roles, for clients' claim mappers.
    pub roles: Roles,
}

/// Parses one line; the error says what is wrong, without echoing any hash. A hash that costs
/// more than `ceiling` is refused: it could never be used to log in.
pub fn parse_line(line: &str, ceiling: &HashCeiling) -> Result<ImportedUser, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let text = |k: &str| -> Result<Option<String>, String> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{k} must be a string")),
        }
    };
    let username = text("username")?.ok_or("username is missing")?;
    let username = Username::parse(&username)
        .map_err(|e| e.description().unwrap_or("bad username").to_owned())?;
    let scopes = match obj.get("scopes") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            ScopeSet::parse(s).map_err(|e| format!("scopes: {}", e.description().unwrap_or("")))?,
        ),
        Some(Value::Array(items)) => {
            let joined: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            let joined = joined.ok_or("scopes must be strings")?.join(" ");
            Some(
                ScopeSet::parse(&joined)
                    .map_err(|e| format!("scopes: {}", e.description().unwrap_or("")))?,
            )
        }
        Some(_) => return Err("scopes must be a string or an array of strings".into()),
    };
    let given = [
        text("password_hash")?.is_some(),
        obj.get("credentials").is_some(),
        text("password")?.is_some(),
    ];
    match given.iter().filter(|g| **g).count() {
        0 => return Err("password_hash, credentials or password is missing".into()),
        1 => {}
        _ => return Err("give one of password_hash, credentials and password".into()),
    };
    let password = match (
        text("password_hash")?,
        obj.get("credentials"),
        text("password")?,
    ) {
        (Some(hash), _, _) => {
            let hash = legacy_hash::normalize(&hash)?;
            ceiling.check(&hash)?;
            ImportedPassword::Hash(hash)
        }
        (_, Some(creds), _) => {
            let hash = keycloak_password(creds)?;
            ceiling.check(&hash)?;
            ImportedPassword::Hash(hash)
        }
        (_, _, Some(plain)) if plain.len() <= crate::user::MAX_PASSWORD_LEN => {
            ImportedPassword::Plain(SecretString::from(plain))
        }
        _ => {
            return Err(format!(
                "password must be at most {} bytes",
                crate::user::MAX_PASSWORD_LEN
            ))
        }
    };
    let attributes = obj
        .get("attributes")
        .map(|v| Attributes::parse(v).map_err(|e| format!("attributes: {e}")))
        .transpose()?
        .unwrap_or_default();
    let roles = obj
        .get("roles")
        .map(|v| Roles::parse_value(v).map_err(|e| format!("roles: {e}")))
        .transpose()?
        .unwrap_or_default();
    Ok(ImportedUser {
        username,
        email: text("email")?,
        phone: text("phone")?,
        scopes,
        password,
        attributes,
        roles,
    })
}

fn keycloak_password(creds: &Value) -> Result<String, String> {
    let cred = creds
        .as_array()
        .ok_or("credentials must be an array")?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str).unwrap_or("password") == "password")
        .ok_or("credentials has no password credential")?;
    // Keycloak exports both fields as JSON text inside the JSON document.
    let field = |k: &str| -> Result<Value, String> {
        match cred.get(k) {
            Some(Value::String(s)) => {
                serde_json::from_str(s).map_err(|_| format!("credentials.{k} is not JSON"))
            }
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            _ => Err(format!("credentials.{k} is missing")),
        }
    };
    legacy_hash::from_keycloak(&field("secretData")?, &field("credentialData")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hash_lines_and_keycloak_lines() {
        let bcrypt = bcrypt::hash("pw", 4).unwrap();
        let line = serde_json::json!({"username": "Ann", "email": "a@x", "scopes": ["openid", "email"], "password_hash": bcrypt}).to_string();
        let u = parse_line(&line, &HashCeiling::DEFAULT).unwrap();
        assert_eq!(u.username.as_str(), "ann");
        assert_eq!(u.scopes.unwrap().to_string(), "openid email");

        let kc = r#"{"username":"bob","credentials":[{"type":"password","secretData":"{\"value\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"salt\":\"c2FsdA==\"}","credentialData":"{\"hashIterations\":27500,\"algorithm\":\"pbkdf2-sha256\"}"}]}"#;
        let ImportedPassword::Hash(hash) = parse_line(kc, &HashCeiling::DEFAULT).unwrap().password
        else {
            panic!("a Keycloak line is a hash");
        };
        assert!(hash.starts_with("$pbkdf2-sha256$i=27500,l=32$"));
        let plain = parse_line(
            r#"{"username":"cy","password":"pw"}"#,
            &HashCeiling::DEFAULT,
        );
        assert!(matches!(
            plain.unwrap().password,
            ImportedPassword::Plain(_)
        ));
        let both = r#"{"username":"cy","password":"pw","password_hash":"$2b$04$x"}"#;
        assert!(parse_line(both, &HashCeiling::DEFAULT)
            .unwrap_err()
            .contains("one of"));
    }

    #[test]
    fn attributes_and_roles_are_read_and_bounded() {
        let line = r#"{"username":"cy","password":"pw","attributes":{"department":"sales"},"roles":["gatehouse:viewer","gatehouse:viewer"]}"#;
        let u = parse_line(line, &HashCeiling::DEFAULT).unwrap();
        assert_eq!(u.attributes.get("department").unwrap(), "sales");
        assert_eq!(u.roles.iter().collect::<Vec<_>>(), ["gatehouse:viewer"]);
        let bad = r#"{"username":"cy","password":"pw","attributes":["x"]}"#;
        assert!(parse_line(bad, &HashCeiling::DEFAULT)
            .unwrap_err()
            .starts_with("attributes:"));
        let bad = r#"{"username":"cy","password":"pw","roles":["a b"]}"#;
        assert!(parse_line(bad, &HashCeiling::DEFAULT)
            .unwrap_err()
            .starts_with("roles:"));
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(parse_line("[]", &HashCeiling::DEFAULT)
            .unwrap_err()
            .contains("object"));
        assert!(parse_line(r#"{"username":"x"}"#, &HashCeiling::DEFAULT)
            .unwrap_err()
            .contains("missing"));
        assert!(parse_line(
            r#"{"username":"x","password_hash":"plain"}"#,
            &HashCeiling::DEFAULT
        )
        .unwrap_err()
        .contains("unsupported"));
        assert!(parse_line(
            r#"{"username":"a b","password_hash":"x"}"#,
            &HashCeiling::DEFAULT
        )
        .is_err());
    }

    #[test]
    fn hashes_over_the_ceiling_are_refused() {
        let bcrypt = bcrypt::hash("pw", 4).unwrap();
        let line = |h: String| serde_json::json!({"username": "x", "password_hash": h}).to_string();
        let c = HashCeiling::DEFAULT;
        assert!(parse_line(&line(bcrypt.clone()), &c).is_ok());
        let why = parse_line(&line(format!("$2b$31${}", &bcrypt[7..])), &c).unwrap_err();
        assert_eq!(
            why,
            "bcrypt cost 31 is over the ceiling of 15 (--max-bcrypt-cost)"
        );
        // Keycloak's argon2 export with 4 TiB of memory.
        let kc = serde_json::json!({"username": "kc", "credentials": [{"type": "password",
            "secretData": {"value": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "salt": "c2FsdHNhbHRzYWx0"},
            "credentialData": {"hashIterations": 3, "algorithm": "argon2",
                "additionalParameters": {"memory": ["4294967295"]}}}]});
        let why = parse_line(&kc.to_string(), &c).unwrap_err();
        assert!(why.contains("--max-argon2-memory-kib"), "{why}");
    }
}
