//! Password hashing: argon2id (RFC 9106) with at least OWASP's parameters, run on a bounded pool
//! of blocking threads so a hash never stalls an async worker, with a bounded queue in front of
//! it so overload is shed at once instead of piling up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::clock::Stopwatch;
use crate::error::Error;
use crate::legacy_hash::Scheme;
use crate::telemetry;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Passes over memory (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP's Password Storage Cheat Sheet minimum for argon2id: 19 MiB, t=2, p=1.
    pub const OWASP: HashParams = HashParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Whether these parameters are at least OWASP's minimum.
    pub fn meets_owasp(&self) -> bool {
        self.memory_kib >= Self::OWASP.memory_kib
            && self.iterations >= Self::OWASP.iterations
            && self.parallelism >= 1
    }

    fn argon2(&self) -> Result<Argon2<'static>, Error> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::invalid_request(format!("invalid argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams::OWASP
    }
}

/// Hashes and verifies passwords and client secrets on a bounded pool.
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: HashParams,
    pool: std::sync::mpsc::Sender<Job>,
    in_flight: AtomicUsize,
    capacity: usize,
    dummy_hash: String,
}

impl PasswordHasher {
    /// A hasher with `workers` concurrent hashes and at most `queue` more requests waiting.
    pub fn new(params: HashParams, workers: usize, queue: usize) -> Result<Self, Error> {
        let argon2 = params.argon2()?;
        let workers = workers.max(1);
        // The dummy hash has the configured parameters, so checking against it costs exactly
        // what checking a real user's password costs.
        let dummy_hash = hash_with(&argon2, crate::random::token(24).as_bytes())?;
        Ok(PasswordHasher {
            argon2,
            params,
            pool: start_pool(workers)?,
            in_flight: AtomicUsize::new(0),
            capacity: workers + queue,
            dummy_hash,
        })
    }

    /// The configured parameters.
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// Requests waiting for or holding a worker.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &SecretString) -> Result<String, Error> {
        let argon2 = self.argon2.clone();
        let password = password.expose_secret().as_bytes().to_vec();
        self.run(move || hash_with(&argon2, &password)).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash of equal cost when there is
    /// no stored hash (an unknown user), so both cases take the same time and return `false`.
    pub async fn verify(&self, password: &[u8], stored: Option<&str>) -> Result<bool, Error> {
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let password = password.to_vec();
        let argon2 = self.argon2.clone();
        let dummy = self.dummy_hash.clone();
        let ok = self
            .run(move || match PasswordHash::new(&hash) {
                _ if crate::legacy_hash::scheme(&hash).is_some_and(|s| s != Scheme::Argon2) => {
                    crate::legacy_hash::verify(&password, &hash).unwrap_or(false)
                }
                Ok(parsed) => argon2.verify_password(&password, &parsed).is_ok(),
                Err(err) => {
                    tracing::error!(%err, "stored password hash is unreadable; refusing the login");
                    if let Ok(parsed) = PasswordHash::new(&dummy) {
                        let _ = argon2.verify_password(&password, &parsed);
                    }
                    false
                }
            })
            .await?;
        Ok(ok && real)
    }

    /// Whether `stored` should be replaced by a fresh hash after a successful login: it is not
    /// argon2id (an imported bcrypt or PBKDF2 hash), or its parameters are weaker than ours.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        if parsed.algorithm.as_str() != "argon2id" {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() < self.params.memory_kib
                    || p.t_cost() < self.params.iterations
                    || p.p_cost() < self.params.parallelism
            }
            Err(_) => true,
        }
    }

    /// Runs `work` on the hash pool once a worker is free, or sheds it when the queue is full.
    async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!(telemetry::HASH_SHED).increment(1);
            return Err(Error::Overloaded { retry_after: 1 });
        }
        let _slot = Slot(&self.in_flight);
        metrics::gauge!(telemetry::HASH_QUEUE_DEPTH).set(self.in_flight() as f64);
        let waiting = Stopwatch::start();
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            metrics::histogram!(telemetry::HASH_WAIT).record(waiting.elapsed_secs());
            let hashing = Stopwatch::start();
            // A panic is answered as an internal error (the sender is dropped) and the worker
            // lives on for the next job.
            if let Ok(out) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
                metrics::histogram!(telemetry::HASH_DURATION).record(hashing.elapsed_secs());
                let _ = done.send(out);
            }
        });
        self.pool
            .send(job)
            .map_err(|_| Error::internal("the password-hash pool has stopped"))?;
        result
            .await
            .map_err(|_| Error::internal("a password-hash worker failed"))
    }
}

/// Work for the hash pool.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Starts `workers` named OS threads that run hash jobs one at a time. A fixed set of threads,
/// rather than tokio's elastic blocking pool, bounds memory: each thread's allocator keeps the
/// argon2 memory block it used, so resident memory stays near `workers` × the memory cost
/// instead of growing with every new blocking thread. The threads end when the sender drops.
fn start_pool(workers: usize) -> Result<std::sync::mpsc::Sender<Job>, Error> {
    let (jobs, queue) = std::sync::mpsc::channel::<Job>();
    let queue = Arc::new(std::sync::Mutex::new(queue));
    for i in 0..workers {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("gatehouse-hash-{i}"))
            .spawn(move || loop {
                // The lock is held only while waiting for the next job, not while running it.
                let next = match queue.lock() {
                    Ok(q) => q.recv(),
                    Err(_) => return,
                };
                match next {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            })
            .map_err(Error::internal)?;
    }
    Ok(jobs)
}

/// Releases a place in the queue when the request ends, however it ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let left = self.0.fetch_sub(1, Ordering::AcqRel) - 1;
        metrics::gauge!(telemetry::HASH_QUEUE_DEPTH).set(left as f64);
    }
}

fn hash_with(argon2: &Argon2<'static>, password: &[u8]) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let hasher = PasswordHasher::new(CHEAP, 1, 4).unwrap();
        let hash = hasher.hash(&SecretString::from("s3cret")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(hasher.verify(b"s3cret", Some(&hash)).await.unwrap());
        assert!(!hasher.verify(b"wrong", Some(&hash)).await.unwrap());
        assert!(!hasher.verify(b"s3cret", None).await.unwrap());
        assert!(!hasher.verify(b"s3cret", Some("not a hash")).await.unwrap());
        assert_eq!(hasher.in_flight(), 0);
    }

    #[tokio::test]
    async fn legacy_and_weaker_hashes_verify_and_ask_for_a_rehash() {
        let hasher = PasswordHasher::new(CHEAP, 1, 4).unwrap();
        let bcrypt = bcrypt::hash("old", 4).unwrap();
        assert!(hasher.verify(b"old", Some(&bcrypt)).await.unwrap());
        assert!(!hasher.verify(b"new", Some(&bcrypt)).await.unwrap());
        assert!(hasher.needs_rehash(&bcrypt));
        let ours = hasher.hash(&SecretString::from("x")).await.unwrap();
        assert!(!hasher.needs_rehash(&ours));
        let stronger = PasswordHasher::new(
            HashParams {
                memory_kib: 128,
                ..CHEAP
            },
            1,
            4,
        )
        .unwrap();
        assert!(stronger.needs_rehash(&ours));
    }

    #[test]
    fn owasp_minimum_is_the_default() {
        assert!(HashParams::default().meets_owasp());
        assert!(!CHEAP.meets_owasp());
    }
}
