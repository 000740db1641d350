//! The password policy of NIST SP 800-63B-4 §3.1.1.2, checked whenever a password is set (never
//! at login: a policy change locks nobody out). Its defaults are NIST's: at least 15 characters
//! when the password is the only factor and 8 when the client requires a second one, every
//! printing character, space and Unicode accepted, no composition rules, no expiry, and words of
//! the context (the username, the e-mail's local part, the client, the service) refused. The
//! older rules some operators are bound by (character classes, history, maximum age) are there,
//! off by default.
//!
//! Passwords are normalised with Unicode NFKC ([`normalize`]) before they are counted, checked
//! and hashed, so the same password typed on two keyboards is the same password.

use std::borrow::Cow;

use unicode_normalization::{is_nfkc, UnicodeNormalization};

use crate::client::ClientSettings;
use crate::user::MAX_PASSWORD_LEN;

/// The most earlier passwords a history may hold (Auth0's bound).
pub const MAX_HISTORY: u32 = 24;

/// Words no password may contain whatever the context: the service's name.
const SERVICE_WORDS: &[&str] = &["gatehouse"];

/// Context words with fewer letters than this are not compared: a two-letter username would
/// refuse passwords such as "al2024!" for no gain.
const MIN_CONTEXT_WORD: usize = 4;

/// The server-wide policy; a client may set its own minimum length and character classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters of a password that is the only factor.
    pub min_length: u32,
    /// Fewest characters of a password set through a client that requires a second factor.
    pub min_length_mfa: u32,
    /// Character classes (lower, upper, digit, other) a password must mix; 0 for none.
    pub require_classes: u8,
    /// Earlier passwords a new one may not repeat; 0 keeps none.
    pub history: u32,
    /// Days after which a password must be changed; `None` never.
    pub max_age_days: Option<u32>,
}

impl Default for PasswordPolicy {
    /// NIST SP 800-63B-4's: 15 characters alone, 8 with a second factor, nothing else.
    fn default() -> Self {
        PasswordPolicy {
            min_length: 15,
            min_length_mfa: 8,
            require_classes: 0,
            history: 0,
            max_age_days: None,
        }
    }
}

/// What a password is checked against besides itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    /// The (normalized) username.
    pub username: &'a str,
    /// The user's e-mail address, if known.
    pub email: Option<&'a str>,
    /// The client the password is set through, if any (the self-service change).
    pub client: Option<(&'a str, &'a ClientSettings)>,
}

/// A policy rule a password failed, named as the API and the events name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyViolation {
    /// `min_length`, `max_length`, `characters`, `character_classes`, `context`, `history` or
    /// `breached`.
    pub rule: &'static str,
    /// What the rule asks, in RFC 6749 §5.2's character set; never the password.
    pub description: String,
}

impl PolicyViolation {
    /// A violation of `rule`.
    pub fn new(rule: &'static str, description: impl Into<String>) -> Self {
        PolicyViolation {
            rule,
            description: description.into(),
        }
    }
}

/// `password` in Unicode Normalization Form KC: what is counted, checked and hashed. Borrowed
/// when it is already normal (every ASCII password is).
pub fn normalize(password: &str) -> Cow<'_, str> {
    if is_nfkc(password) {
        Cow::Borrowed(password)
    } else {
        Cow::Owned(password.nfkc().collect())
    }
}

impl PasswordPolicy {
    /// The policy in force for a password set through `client` (or through no client: an
    /// administrator, the CLI): the client's own minimum and classes where it sets them, and
    /// the shorter minimum when it requires a second factor.
    pub fn for_client(&self, client: Option<&ClientSettings>) -> PasswordPolicy {
        let Some(settings) = client else {
            return *self;
        };
        let default_min = if settings.mfa == crate::client::MfaPolicy::Required {
            self.min_length_mfa
        } else {
            self.min_length
        };
        let own = settings.password_policy;
        PasswordPolicy {
            min_length: own.min_length.unwrap_or(default_min),
            require_classes: own.require_classes.unwrap_or(self.require_classes),
            ..*self
        }
    }

    /// Checks a new (already [`normalize`]d) password against every rule that needs no stored
    /// state; the history and the breached lists are the caller's (they need the store and the
    /// hasher).
    pub fn check(&self, password: &str, ctx: &PasswordContext<'_>) -> Result<(), PolicyViolation> {
        let policy = self.for_client(ctx.client.map(|(_, s)| s));
        let length = password.chars().count();
        if length < policy.min_length as usize {
            return Err(PolicyViolation::new(
                "min_length",
                format!(
                    "the password must be at least {} characters long",
                    policy.min_length
                ),
            ));
        }
        if password.len() > MAX_PASSWORD_LEN {
            return Err(PolicyViolation::new(
                "max_length",
                format!("the password must be at most {MAX_PASSWORD_LEN} bytes long"),
            ));
        }
        if password.chars().any(char::is_control) {
            return Err(PolicyViolation::new(
                "characters",
                "the password may hold any printing character and space, not control characters",
            ));
        }
        let classes = classes(password);
        if classes < policy.require_classes {
            return Err(PolicyViolation::new(
                "character_classes",
                format!(
                    "the password must mix {} of: lower case, upper case, digits, other characters",
                    policy.require_classes
                ),
            ));
        }
        if let Some(word) = context_word(password, ctx) {
            return Err(PolicyViolation::new(
                "context",
                format!("the password may not be {word} or a variant of it"),
            ));
        }
        Ok(())
    }
}

/// How many of the four classes (lower case, upper case, digits, anything else) `password`
/// mixes.
fn classes(password: &str) -> u8 {
    let mut seen = [false; 4];
    for c in password.chars() {
        let class = if c.is_lowercase() {
            0
        } else if c.is_uppercase() {
            1
        } else if c.is_numeric() {
            2
        } else {
            3
        };
        seen[class] = true;
    }
    seen.iter().filter(|s| **s).count() as u8
}

/// Which kind of context word `password` is, or is a derivative of, if any: said as "the
/// username", never the word itself. NIST SP 800-63B-4 puts context-specific words "and
/// derivatives thereof" on the blocklist, which is compared with the whole password: here a
/// password is a derivative of a word when their letters, lower-cased, are the same (so
/// `Alice2024!` and `alice.smith` derive from `alice.smith@example.com`'s local part or the
/// whole username, while `alice-password` is a password of its own).
fn context_word(password: &str, ctx: &PasswordContext<'_>) -> Option<&'static str> {
    let letters = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let core = letters(password);
    let local = |s: &str| s.split('@').next().unwrap_or(s).to_owned();
    let words = [
        Some(("the username", ctx.username.to_owned())),
        Some(("the username", local(ctx.username))),
        ctx.email.map(|e| ("the e-mail address", e.to_owned())),
        ctx.email.map(|e| ("the e-mail address", local(e))),
        ctx.client.map(|(id, _)| ("the client name", id.to_owned())),
    ];
    let service = SERVICE_WORDS
        .iter()
        .map(|w| Some(("the service name", (*w).to_owned())));
    words
        .into_iter()
        .chain(service)
        .flatten()
        .map(|(kind, word)| (kind, letters(&word)))
        .find(|(_, word)| word.chars().count() >= MIN_CONTEXT_WORD && core == *word)
        .map(|(kind, _)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::MfaPolicy;

    fn ctx() -> PasswordContext<'static> {
        PasswordContext {
            username: "alice.smith@example.com",
            email: Some("alice.smith@example.com"),
            client: None,
        }
    }

    fn rule(policy: &PasswordPolicy, pw: &str, ctx: &PasswordContext<'_>) -> &'static str {
        match policy.check(pw, ctx) {
            Ok(()) => "ok",
            Err(v) => v.rule,
        }
    }

    #[test]
    fn nist_defaults_count_characters_not_bytes() {
        let p = PasswordPolicy::default();
        assert_eq!(rule(&p, "correct horse b", &ctx()), "ok");
        assert_eq!(rule(&p, "correct horse ", &ctx()), "min_length");
        // 15 characters of 2 to 4 bytes each are 15 characters.
        assert_eq!(rule(&p, "ÄÖÜäöüßéèêëçñõ€", &ctx()), "ok");
        assert_eq!(rule(&p, "ÄÖÜäöüßéèêëçñõ", &ctx()), "min_length");
        assert_eq!(
            rule(&p, &"x".repeat(MAX_PASSWORD_LEN + 1), &ctx()),
            "max_length"
        );
        assert_eq!(rule(&p, "correct\u{7}horse battery", &ctx()), "characters");
        // No composition rules: all lower case, with spaces, is fine.
        assert_eq!(rule(&p, "purple monkey dishwasher", &ctx()), "ok");
    }

    #[test]
    fn a_client_requiring_mfa_lowers_the_minimum_and_a_client_may_set_its_own() {
        let p = PasswordPolicy::default();
        let mfa = ClientSettings {
            mfa: MfaPolicy::Required,
            ..ClientSettings::default()
        };
        let with = PasswordContext {
            client: Some(("app", &mfa)),
            ..ctx()
        };
        assert_eq!(rule(&p, "tr0ub4dor", &with), "ok");
        assert_eq!(rule(&p, "tr0ub4d", &with), "min_length");
        let own = ClientSettings {
            password_policy: crate::client::ClientPasswordPolicy {
                min_length: Some(20),
                require_classes: Some(3),
            },
            ..ClientSettings::default()
        };
        let with = PasswordContext {
            client: Some(("app", &own)),
            ..ctx()
        };
        assert_eq!(
            rule(&p, "correct horse battery", &with),
            "character_classes"
        );
        assert_eq!(rule(&p, "Correct horse battery 9", &with), "ok");
        assert_eq!(rule(&p, "Correct horse 9", &with), "min_length");
    }

    #[test]
    fn classes_are_counted_when_asked() {
        let p = PasswordPolicy {
            require_classes: 4,
            min_length: 8,
            ..PasswordPolicy::default()
        };
        assert_eq!(rule(&p, "Abcdefg1", &ctx()), "character_classes");
        assert_eq!(rule(&p, "Abcdefg1!", &ctx()), "ok");
        assert_eq!(rule(&p, "Ábcdéfg1 ", &ctx()), "ok");
    }

    #[test]
    fn context_words_are_refused_without_being_echoed() {
        let p = PasswordPolicy::default();
        let p = PasswordPolicy { min_length: 8, ..p };
        for pw in [
            "ALICE.SMITH 2024!",
            "gatehouse 1234567",
            "alice.smith@example.com",
            "Alice Smith @ example . com 99",
        ] {
            let v = p.check(pw, &ctx()).unwrap_err();
            assert_eq!(v.rule, "context", "{pw}");
            assert!(!v.description.contains("alice"), "{}", v.description);
        }
        let settings = ClientSettings::default();
        let with = PasswordContext {
            client: Some(("payroll-app", &settings)),
            ..ctx()
        };
        assert_eq!(rule(&p, "Payroll-App-2025", &with), "context");
        // A password that holds a context word among others is a password of its own.
        assert_eq!(rule(&p, "alice.smith-password", &ctx()), "ok");
        assert_eq!(rule(&p, "my gatehouse password", &ctx()), "ok");
        // A short username is not a word to compare.
        let short = PasswordContext {
            username: "al",
            email: None,
            client: None,
        };
        assert_eq!(rule(&p, "al-2024-al-2024!", &short), "ok");
    }

    #[test]
    fn nfkc_maps_compatibility_forms_and_borrows_normal_text() {
        assert!(matches!(normalize("plain ascii"), Cow::Borrowed(_)));
        // Full-width letters, a ligature and a decomposed accent all have one normal form.
        assert_eq!(normalize("ｐａｓｓ"), "pass");
        assert_eq!(normalize("ﬁne"), "fine");
        assert_eq!(normalize("e\u{301}"), "\u{e9}");
    }
}
