//! The common passwords built into the binary: the 30,000 passwords of zxcvbn's frequency list
//! (Dropbox's zxcvbn, as carried by the `zxcvbn` crate, ranked from leaked password lists).
//! The list module of the crate is private, so a password is looked up through its matcher: the
//! password is common when one match of the `passwords` dictionary covers all of it, whatever its
//! case, its l33t substitutions (`P@ssw0rd`) or its direction (`drowssap`), or when zxcvbn
//! estimates it falls in fewer than [`COMMON_GUESSES`] guesses. The second rule catches the
//! list's entries that zxcvbn explains otherwise (`11111111` as a repeat, `adgjmp` as a
//! keyboard walk, `mike1` as a name and a digit: 3,483 of the 30,000 by the first rule alone;
//! 29,999 with both) and the expected values NIST SP 800-63B-4 also blocks: repeats,
//! sequences, keyboard walks, words with a year (`letmein123`, `mike1990`).
//!
//! zxcvbn's matching grows faster than the password (it tries every substring), so a password
//! longer than the longest word of the list ([`LONGEST_COMMON_PASSWORD`] characters) is not
//! looked at: l33t and case only swap one character for one, so it cannot be an exact match.

use async_trait::async_trait;
use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};

use super::{BreachSource, BreachedPasswords};

/// How many passwords the built-in list holds (zxcvbn's `passwords` frequency list).
pub const COMMON_PASSWORD_COUNT: usize = 30_000;

/// zxcvbn's guess estimate under which a password counts as common: what an online attacker
/// tries first. A passphrase of 15 characters or more is estimated in the billions at least.
pub const COMMON_GUESSES: u64 = 100_000;

/// Characters of the longest password of the built-in list (`12345678900987654321`).
pub const LONGEST_COMMON_PASSWORD: usize = 20;

/// The common passwords built into the binary (source [`BreachSource::Common`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CommonPasswords;

impl CommonPasswords {
    /// Whether `password` is one of the common passwords, up to case, l33t and reversal.
    /// Synchronous and cheap (tens of microseconds at most, see docs/security.md).
    pub fn is_common(password: &str) -> bool {
        // Past the longest word there is no exact match; counting stops there, so a long
        // password costs no more than a short one.
        let length = password.chars().take(LONGEST_COMMON_PASSWORD + 1).count();
        if length == 0 || length > LONGEST_COMMON_PASSWORD {
            return false;
        }
        let entropy = zxcvbn::zxcvbn(password, &[]);
        let listed = match entropy.sequence() {
            [only] => {
                only.i == 0
                    && only.j + 1 == length
                    && matches!(&only.pattern, MatchPattern::Dictionary(d) if is_passwords_list(d))
            }
            _ => false,
        };
        listed || entropy.guesses() < COMMON_GUESSES
    }

    /// Builds zxcvbn's dictionaries now (about 20 ms, once per process) rather than in the
    /// first login that asks.
    pub fn warm_up() {
        let _ = Self::is_common("warm-up");
    }
}

/// Whether a dictionary match comes from the `passwords` list (not English words or names).
/// The crate does not export its `DictionaryType`, whose default is `Passwords`.
fn is_passwords_list(pattern: &DictionaryPattern) -> bool {
    pattern.dictionary_name == Default::default()
}

#[async_trait]
impl BreachedPasswords for CommonPasswords {
    async fn contains(&self, password: &str) -> bool {
        Self::is_common(password)
    }

    fn source(&self) -> BreachSource {
        BreachSource::Common
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_and_their_variants_are_found() {
        for password in [
            "password",
            "P@ssw0rd",
            "drowssap",
            "123456",
            "PASSWORD",
            "qwerty",
            // Entries zxcvbn explains otherwise, and expected values of the same strength.
            "11111111",
            "adgjmp",
            "mike1",
            "letmein123",
            "aaaaaaaaaaaaaaaa",
        ] {
            assert!(CommonPasswords::is_common(password), "{password}");
        }
    }

    #[test]
    fn uncommon_passwords_are_not_found() {
        for password in [
            "correct horse battery staple",
            "q7$Lm2#vXp9!Rk4@Zt8w",
            "",
            "password123456789012345",
            "passwordx7Qz",
            "alice-password",
            "Tr0ub4dor&3",
        ] {
            assert!(!CommonPasswords::is_common(password), "{password}");
        }
    }

    /// The longest word of the list is found (the length bound is not off by one), and one
    /// character more is not looked up.
    #[test]
    fn the_longest_word_is_found_and_longer_passwords_skipped() {
        let longest = "12345678900987654321";
        assert_eq!(longest.chars().count(), LONGEST_COMMON_PASSWORD);
        assert!(CommonPasswords::is_common(longest));
        assert!(!CommonPasswords::is_common(&format!("{longest}1")));
    }

    #[tokio::test]
    async fn the_list_answers_through_the_trait() {
        let list = CommonPasswords;
        assert!(list.contains("letmein").await);
        assert_eq!(list.source(), BreachSource::Common);
    }
}
