//! Scopes (RFC 6749 §3.3): `scope = scope-token *( SP scope-token )`, where a scope-token is one or
//! more of %x21 / %x23-5B / %x5D-7E (printable ASCII without space, `"` and `\`).

use std::fmt;

use crate::error::Error;

/// The longest `scope` parameter gatehouse accepts, in bytes.
pub const MAX_SCOPE_LEN: usize = 2048;

/// A set of scope tokens, in the order first seen, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Parses a space-delimited scope string. Runs of spaces are tolerated; any other character
    /// outside the scope-token set is `invalid_scope`, with a description that names it.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw.len() > MAX_SCOPE_LEN {
            return Err(Error::InvalidScope(
                format!("scope is longer than {MAX_SCOPE_LEN} bytes").into(),
            ));
        }
        let mut set = ScopeSet::default();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if let Some(bad) = token.chars().find(|&c| !is_scope_char(c)) {
                return Err(Error::InvalidScope(describe_bad_char(bad).into()));
            }
            set.insert(token);
        }
        Ok(set)
    }

    /// Builds a set from tokens that are already known to be valid (from storage).
    pub fn from_trusted<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = ScopeSet::default();
        for t in tokens {
            set.insert(t.as_ref());
        }
        set
    }

    fn insert(&mut self, token: &str) {
        if !self.contains(token) {
            self.0.push(token.to_owned());
        }
    }

    /// Whether `token` is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// Whether the set holds no scope.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens of `self` that `other` also holds, in `self`'s order.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(
            self.0
                .iter()
                .filter(|t| other.contains(t))
                .cloned()
                .collect(),
        )
    }

    /// The first token of `self` that `other` lacks.
    pub fn first_missing_from<'a>(&'a self, other: &ScopeSet) -> Option<&'a str> {
        self.iter().find(|t| !other.contains(t))
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.first_missing_from(other).is_none()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

fn is_scope_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

fn describe_bad_char(c: char) -> String {
    match c {
        '"' => "scope must not be quoted: a scope token may not contain a double quote (RFC 6749 \
                section 3.3); send the space-delimited tokens without quotes"
            .to_owned(),
        '\\' => "a scope token may not contain a backslash (RFC 6749 section 3.3)".to_owned(),
        c if c.is_control() || c.is_whitespace() => format!(
            "scope tokens are separated by single spaces; U+{:04X} is not allowed (RFC 6749 section 3.3)",
            c as u32
        ),
        c => format!(
            "a scope token may contain only printable ASCII; U+{:04X} is not allowed (RFC 6749 section 3.3)",
            c as u32
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_delimited_tokens_without_duplicates() {
        let set = ScopeSet::parse("openid  phone email phone").unwrap();
        assert_eq!(set.to_string(), "openid phone email");
    }

    /// RFC 6749 §3.3: `"` is outside the scope-token set, so seed 002's quoted scope is refused.
    #[test]
    fn quoted_scope_is_invalid_scope_with_a_reason() {
        let err = ScopeSet::parse("\"contacts.read contacts.write\"").unwrap_err();
        assert_eq!(err.code(), "invalid_scope");
        assert!(err.description().unwrap().contains("quoted"));
    }

    #[test]
    fn rejects_non_ascii_and_control_characters() {
        assert!(ScopeSet::parse("caf\u{e9}").is_err());
        assert!(ScopeSet::parse("a\tb").is_err());
        assert!(ScopeSet::parse(&"a".repeat(MAX_SCOPE_LEN + 1)).is_err());
    }

    #[test]
    fn intersection_keeps_order_of_the_request() {
        let req = ScopeSet::parse("email openid phone").unwrap();
        let allowed = ScopeSet::parse("openid email").unwrap();
        assert_eq!(req.intersection(&allowed).to_string(), "email openid");
        assert_eq!(req.first_missing_from(&allowed), Some("phone"));
    }
}
