//! The cost ceiling of stored password hashes. An imported hash carries its own cost (argon2's
//! memory, passes and lanes, bcrypt's cost, PBKDF2's iterations), and checking a password
//! against it, right or wrong, pays that cost: a bcrypt-31 or a 4 TiB argon2 hash would pin a
//! hash worker for hours or exhaust memory for anyone who knows the username. `user import`
//! refuses a hash over the ceiling, and a stored one over it (imported under a higher ceiling)
//! is unusable: its login fails like a wrong password, after a hash of the configured cost.

use argon2::password_hash::PasswordHash;

use crate::legacy_hash::{self, Scheme};
use crate::password::HashParams;

/// The highest cost of a stored password hash that is ever computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCeiling {
    /// argon2 memory in KiB (`m`).
    pub argon2_memory_kib: u32,
    /// argon2 passes (`t`).
    pub argon2_iterations: u32,
    /// argon2 lanes (`p`).
    pub argon2_parallelism: u32,
    /// bcrypt cost (log2 of its rounds).
    pub bcrypt_cost: u32,
    /// PBKDF2 iterations.
    pub pbkdf2_iterations: u32,
}

impl HashCeiling {
    /// 256 MiB, t=10, p=16 for argon2; cost 15 for bcrypt; 2,000,000 PBKDF2 iterations: above
    /// what Keycloak, Auth0, Django and passlib write by default, far below an attack.
    pub const DEFAULT: HashCeiling = HashCeiling {
        argon2_memory_kib: 256 * 1024,
        argon2_iterations: 10,
        argon2_parallelism: 16,
        bcrypt_cost: 15,
        pbkdf2_iterations: 2_000_000,
    };

    /// This ceiling, raised where needed to admit hashes of `params`, the server's own cost, so
    /// that the hashes it writes itself are never over it.
    pub fn admitting(self, params: HashParams) -> Self {
        HashCeiling {
            argon2_memory_kib: self.argon2_memory_kib.max(params.memory_kib),
            argon2_iterations: self.argon2_iterations.max(params.iterations),
            argon2_parallelism: self.argon2_parallelism.max(params.parallelism),
            ..self
        }
    }

    /// `Err` with the reason (which parameter, its value and the ceiling; never the hash) when
    /// `stored` costs more than this ceiling allows. A hash whose cost cannot be read is not
    /// judged here: it does not verify anyway.
    pub fn check(&self, stored: &str) -> Result<(), String> {
        let over = |what: &str, value: u32, max: u32, flag: &str| {
            Err(format!(
                "{what} {value} is over the ceiling of {max} (--{flag})"
            ))
        };
        match legacy_hash::scheme(stored) {
            Some(Scheme::Argon2) => {
                let Ok(parsed) = PasswordHash::new(stored) else {
                    return Ok(());
                };
                let Ok(params) = argon2::Params::try_from(&parsed) else {
                    return Ok(());
                };
                let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
                if m > self.argon2_memory_kib {
                    let max = self.argon2_memory_kib;
                    return over("argon2 memory (KiB)", m, max, "max-argon2-memory-kib");
                }
                if t > self.argon2_iterations {
                    let max = self.argon2_iterations;
                    return over("argon2 iterations", t, max, "max-argon2-iterations");
                }
                if p > self.argon2_parallelism {
                    let max = self.argon2_parallelism;
                    return over("argon2 parallelism", p, max, "max-argon2-parallelism");
                }
                Ok(())
            }
            Some(Scheme::Bcrypt) => match legacy_hash::bcrypt_cost(stored) {
                Some(cost) if cost > self.bcrypt_cost => {
                    over("bcrypt cost", cost, self.bcrypt_cost, "max-bcrypt-cost")
                }
                _ => Ok(()),
            },
            Some(Scheme::Pbkdf2) => match legacy_hash::pbkdf2_iterations(stored) {
                Some(i) if i > self.pbkdf2_iterations => over(
                    "PBKDF2 iterations",
                    i,
                    self.pbkdf2_iterations,
                    "max-pbkdf2-iterations",
                ),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }
}

impl Default for HashCeiling {
    fn default() -> Self {
        HashCeiling::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argon2(m: u32, t: u32, p: u32) -> String {
        // Salt and hash are never computed: the ceiling reads only the parameters.
        format!("$argon2id$v=19$m={m},t={t},p={p}$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    }

    fn bcrypt(cost: u32) -> String {
        format!("$2b${cost:02}${}", &bcrypt::hash("pw", 4).unwrap()[7..])
    }

    #[test]
    fn hashes_within_the_ceiling_pass() {
        let c = HashCeiling::DEFAULT;
        assert_eq!(c.check(&argon2(19456, 2, 1)), Ok(()));
        assert_eq!(c.check(&argon2(262144, 10, 16)), Ok(()));
        assert_eq!(c.check(&bcrypt(12)), Ok(()));
        assert_eq!(c.check(&bcrypt(15)), Ok(()));
        assert_eq!(
            c.check("$pbkdf2-sha256$i=27500,l=32$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"),
            Ok(())
        );
        assert_eq!(c.check("not a hash"), Ok(()));
    }

    #[test]
    fn each_parameter_over_the_ceiling_is_named() {
        let c = HashCeiling::DEFAULT;
        let why = |h: &str| c.check(h).unwrap_err();
        assert!(why(&argon2(u32::MAX, 1, 1)).contains("--max-argon2-memory-kib"));
        assert!(why(&argon2(262145, 1, 1)).contains("262145"));
        assert!(why(&argon2(19456, u32::MAX, 1)).contains("--max-argon2-iterations"));
        assert!(why(&argon2(19456, 2, 17)).contains("--max-argon2-parallelism"));
        assert!(why(&bcrypt(31)).contains("bcrypt cost 31"));
        assert!(why(&bcrypt(16)).contains("--max-bcrypt-cost"));
        let pbkdf2 = "$pbkdf2-sha512$i=2000001,l=32$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA";
        assert!(why(pbkdf2).contains("--max-pbkdf2-iterations"));
    }

    #[test]
    fn the_servers_own_cost_is_always_admitted() {
        let own = HashParams {
            memory_kib: 512 * 1024,
            iterations: 12,
            parallelism: 1,
        };
        let c = HashCeiling {
            argon2_memory_kib: 1024,
            ..HashCeiling::DEFAULT
        }
        .admitting(own);
        assert_eq!(c.check(&argon2(512 * 1024, 12, 1)), Ok(()));
        assert!(c.check(&argon2(512 * 1024 + 1, 12, 1)).is_err());
    }
}
