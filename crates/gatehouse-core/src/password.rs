//! Password hashing: argon2id (RFC 9106) with at least OWASP's parameters, run on a fixed pool
//! of OS threads so a hash never stalls an async worker, with a bounded queue in front of it so
//! overload is shed instead of piling up ([`crate::hash_admission`]: a burst may queue, a
//! standing queue is shed, and a shed answer is held on a timer before it is sent). A request is
//! admitted ([`HashPermit`]) before any of its other work, so a shed request costs no database
//! write and no hash; each worker keeps its argon2 memory between hashes rather than allocating
//! and zeroing it for every one.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::clock::Stopwatch;
use crate::error::Error;
use crate::hash_admission::{Admission, AdmissionSettings, Entry};
use crate::hash_ceiling::HashCeiling;
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

    /// argon2 memory blocks (1 KiB each) one hash with these parameters uses.
    fn block_count(&self) -> usize {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map(|p| p.block_count())
            .unwrap_or(0)
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
    admission: Arc<Admission>,
    dummy_hash: String,
    ceiling: HashCeiling,
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password is right.
    Match,
    /// The password is wrong, there is no stored hash, or the stored hash is unreadable.
    Mismatch,
    /// The stored hash costs more than the [`HashCeiling`]: it was not computed (a dummy hash
    /// of the configured cost was, so the answer takes as long as a wrong password's).
    OverCeiling,
}

/// A place in the hash pool's bounded queue, taken by [`PasswordHasher::admit`] before a request
/// does any other work and given back once its hash is done ([`HashPermit::check_typed`] and
/// [`HashPermit::verify`] spend it) or when it is dropped unspent.
#[must_use]
pub struct HashPermit<'a>(&'a PasswordHasher);

impl PasswordHasher {
    /// A hasher with `workers` concurrent hashes and at most `queue` more requests admitted
    /// while the queue drains (the other admission settings are the defaults).
    pub fn new(params: HashParams, workers: usize, queue: usize) -> Result<Self, Error> {
        let settings = AdmissionSettings {
            queue,
            ..AdmissionSettings::defaults(workers)
        };
        Self::with_admission(params, workers, settings)
    }

    /// A hasher with `workers` concurrent hashes, admitting requests by `settings`.
    pub fn with_admission(
        params: HashParams,
        workers: usize,
        settings: AdmissionSettings,
    ) -> Result<Self, Error> {
        let argon2 = params.argon2()?;
        let workers = workers.max(1);
        // The dummy hash has the configured parameters, so checking against it costs exactly
        // what checking a real user's password costs; its time is the first estimate of a
        // hash's duration.
        let watch = Stopwatch::start();
        let dummy_hash = hash_with(&argon2, crate::random::token(24).as_bytes())?;
        let admission = Admission::new(workers, settings, watch.elapsed());
        Ok(PasswordHasher {
            argon2,
            params,
            pool: start_pool(workers, params.block_count())?,
            admission: Arc::new(admission),
            dummy_hash,
            ceiling: HashCeiling::DEFAULT.admitting(params),
        })
    }

    /// Sets the cost ceiling of stored hashes (never below the configured parameters).
    pub fn with_ceiling(mut self, ceiling: HashCeiling) -> Self {
        self.ceiling = ceiling.admitting(self.params);
        self
    }

    /// The cost ceiling of stored hashes in force.
    pub fn ceiling(&self) -> HashCeiling {
        self.ceiling
    }

    /// The configured parameters.
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// How many hashes may run or wait at once while the queue drains (workers plus queue).
    pub fn capacity(&self) -> usize {
        self.admission.capacity()
    }

    /// Requests waiting for or holding a worker.
    pub fn in_flight(&self) -> usize {
        self.admission.in_flight()
    }

    /// Shed answers being held now.
    pub fn held(&self) -> usize {
        self.admission.held()
    }

    /// Takes a place in the queue, or sheds the request (`Overloaded`, answered 503 with
    /// `Retry-After`) when the queue is full or has stood too long. The caller answers a shed
    /// request after [`PasswordHasher::hold_shed`].
    pub fn admit(&self) -> Result<HashPermit<'_>, Error> {
        let admission = &*self.admission;
        if admission.enter(admission.now()) == Entry::Shed {
            metrics::counter!(telemetry::HASH_SHED).increment(1);
            return Err(Error::overloaded());
        }
        metrics::gauge!(telemetry::HASH_QUEUE_DEPTH).set(admission.in_flight() as f64);
        Ok(HashPermit(self))
    }

    /// Holds a shed request's answer on a timer (no work) so that a client retrying at once
    /// comes back about when the queue has room, and returns the error to answer with. When as
    /// many answers are held as may be, returns at once an error whose connection is closed.
    pub async fn hold_shed(&self) -> Error {
        let Some((place, hold)) = self.admission.hold() else {
            return Error::Overloaded {
                retry_after: 1,
                close: true,
            };
        };
        metrics::gauge!(telemetry::HASH_HELD).set(self.admission.held() as f64);
        metrics::histogram!(telemetry::HASH_HOLD).record(hold.as_secs_f64());
        tokio::time::sleep(hold).await;
        drop(place);
        metrics::gauge!(telemetry::HASH_HELD).set(self.admission.held() as f64);
        Error::overloaded()
    }

    /// [`PasswordHasher::admit`], holding the answer of a shed request
    /// ([`PasswordHasher::hold_shed`]).
    pub async fn admit_or_hold(&self) -> Result<HashPermit<'_>, Error> {
        match self.admit() {
            Ok(permit) => Ok(permit),
            Err(_) => Err(self.hold_shed().await),
        }
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &SecretString) -> Result<String, Error> {
        let argon2 = self.argon2.clone();
        let password = password.expose_secret().as_bytes().to_vec();
        let _permit = self.admit_or_hold().await?;
        self.run(move |_| hash_with(&argon2, &password)).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash of equal cost when there is
    /// no stored hash (an unknown user), so both cases take the same time and return `false`.
    pub async fn verify(&self, password: &[u8], stored: Option<&str>) -> Result<bool, Error> {
        self.admit_or_hold().await?.verify(password, stored).await
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

    /// Runs `work` on the hash pool once a worker is free; the caller holds a [`HashPermit`].
    async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Memory) -> T + Send + 'static,
    {
        let waiting = Stopwatch::start();
        let (done, result) = tokio::sync::oneshot::channel();
        let admission = self.admission.clone();
        let job: Job = Box::new(move |memory: &mut Memory| {
            metrics::histogram!(telemetry::HASH_WAIT).record(waiting.elapsed_secs());
            let hashing = Stopwatch::start();
            // A panic is answered as an internal error (the sender is dropped) and the worker
            // lives on for the next job.
            let work = std::panic::AssertUnwindSafe(|| work(memory));
            if let Ok(out) = std::panic::catch_unwind(work) {
                let took = hashing.elapsed();
                admission.record_hash(took);
                metrics::histogram!(telemetry::HASH_DURATION).record(took.as_secs_f64());
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

impl HashPermit<'_> {
    /// [`PasswordHasher::verify`] in the place this permit holds; the place is given back when
    /// the hash is done.
    pub async fn verify(self, password: &[u8], stored: Option<&str>) -> Result<bool, Error> {
        Ok(self.check(password, stored).await? == Verdict::Match)
    }

    /// Checks a user's password as typed: its NFKC form (what gatehouse hashes) first, then,
    /// when NFKC changes it and that did not match, the typed form (a hash stored before
    /// passwords were normalised). Both forms are computed whatever `stored` is (`None`, the
    /// dummy hash, included), so an unknown user costs what a known one does. The verdict, and
    /// whether it was the typed form that matched (the caller rehashes).
    ///
    /// The permit is spent: its place is given back as soon as the hash work is done, not when
    /// the request ends. The database work after the hash (the login's tokens, its events)
    /// holds no place, so a worker never waits for a request that no longer needs it; the
    /// admission's queue counts only requests on their way to a worker.
    pub async fn check_typed(
        self,
        typed: &str,
        stored: Option<&str>,
    ) -> Result<(Verdict, bool), Error> {
        let normal = crate::password_policy::normalize(typed);
        let verdict = self.check(normal.as_bytes(), stored).await?;
        if verdict != Verdict::Mismatch || normal == typed {
            return Ok((verdict, false));
        }
        let verdict = self.check(typed.as_bytes(), stored).await?;
        Ok((verdict, verdict == Verdict::Match))
    }

    /// Like [`HashPermit::verify`], and says why a password did not match when the stored hash
    /// is over the cost ceiling: that hash is never computed, the dummy hash is instead.
    pub async fn check(&self, password: &[u8], stored: Option<&str>) -> Result<Verdict, Error> {
        let hasher = self.0;
        let over = stored.and_then(|h| hasher.ceiling.check(h).err());
        if let Some(reason) = &over {
            tracing::warn!(%reason, "stored password hash is over the cost ceiling; refusing the login");
        }
        let (hash, real) = match stored {
            Some(h) if over.is_none() => (h.to_owned(), true),
            _ => (hasher.dummy_hash.clone(), false),
        };
        let password = password.to_vec();
        let dummy = hasher.dummy_hash.clone();
        let ok = hasher
            .run(move |memory| match PasswordHash::new(&hash) {
                _ if crate::legacy_hash::scheme(&hash).is_some_and(|s| s != Scheme::Argon2) => {
                    crate::legacy_hash::verify(&password, &hash).unwrap_or(false)
                }
                Ok(parsed) => memory.verify(&password, &parsed),
                Err(err) => {
                    tracing::error!(%err, "stored password hash is unreadable; refusing the login");
                    if let Ok(parsed) = PasswordHash::new(&dummy) {
                        memory.verify(&password, &parsed);
                    }
                    false
                }
            })
            .await?;
        Ok(match (ok && real, over) {
            (true, _) => Verdict::Match,
            (false, Some(_)) => Verdict::OverCeiling,
            (false, None) => Verdict::Mismatch,
        })
    }
}

impl Drop for HashPermit<'_> {
    /// Gives the place back when the hash is done or the request ends, whichever comes first.
    fn drop(&mut self) {
        let admission = &*self.0.admission;
        let left = admission.leave(admission.now());
        metrics::gauge!(telemetry::HASH_QUEUE_DEPTH).set(left as f64);
    }
}

/// Work for the hash pool.
type Job = Box<dyn FnOnce(&mut Memory) + Send + 'static>;

/// Starts `workers` named OS threads that run hash jobs one at a time. A fixed set of threads,
/// rather than tokio's elastic blocking pool, bounds memory: each thread keeps one argon2 memory
/// block of the configured cost ([`Memory`]), so resident memory stays near `workers` × the
/// memory cost. The threads end when the sender drops.
fn start_pool(workers: usize, blocks: usize) -> Result<std::sync::mpsc::Sender<Job>, Error> {
    let (jobs, queue) = std::sync::mpsc::channel::<Job>();
    let queue = Arc::new(std::sync::Mutex::new(queue));
    for i in 0..workers {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("gatehouse-hash-{i}"))
            .spawn(move || {
                let mut memory = Memory::new(blocks);
                loop {
                    // The lock is held only while waiting for the next job, not while running it.
                    let next = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(job) => job(&mut memory),
                        Err(_) => return,
                    }
                }
            })
            .map_err(Error::internal)?;
    }
    Ok(jobs)
}

/// A hash worker's argon2 memory, kept from one hash to the next: allocating it per hash costs a
/// 19 MiB allocation and zeroing (argon2 overwrites every block before reading it, so reused
/// memory needs no zeroing) and lets the allocator fragment. It is allocated at the first hash,
/// so an idle server does not hold it. A stored hash with a larger memory cost than the
/// configured one (an imported hash) gets a one-off allocation instead.
struct Memory {
    blocks: Vec<Block>,
    keep: usize,
}

impl Memory {
    fn new(keep: usize) -> Self {
        Memory {
            blocks: Vec::new(),
            keep,
        }
    }

    /// argon2 of `password` with `parsed`'s algorithm, version, parameters and salt, compared
    /// with its output in constant time: what `PasswordVerifier::verify_password` does, on
    /// this memory.
    fn verify(&mut self, password: &[u8], parsed: &PasswordHash<'_>) -> bool {
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(parsed) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = [0u8; 64];
        let Some(out) = out.get_mut(..expected.len()) else {
            return false;
        };
        let need = argon2.params().block_count();
        let hashed = if need > self.keep {
            argon2.hash_password_into(password, salt, out)
        } else {
            if self.blocks.len() < need {
                self.blocks.resize(need, Block::default());
            }
            argon2.hash_password_into_with_memory(password, salt, out, &mut self.blocks[..need])
        };
        hashed.is_ok() && bool::from(expected.as_bytes().ct_eq(out))
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

    /// A stored hash over the ceiling is never computed: the right password does not match it,
    /// the verdict says why, and a bcrypt hash of cost 31 (about a day and a half of work) is
    /// answered as fast as the dummy hash, which is the test's bound (it would not finish).
    #[tokio::test]
    async fn a_hash_over_the_ceiling_is_refused_without_computing_it() {
        let hasher = PasswordHasher::new(CHEAP, 1, 4).unwrap();
        let bcrypt4 = bcrypt::hash("pw", 4).unwrap();
        let bcrypt31 = format!("$2b$31${}", &bcrypt4[7..]);
        let verdict = hasher.admit().unwrap().check(b"pw", Some(&bcrypt31)).await;
        assert_eq!(verdict.unwrap(), Verdict::OverCeiling);
        let lowered = hasher.with_ceiling(HashCeiling {
            bcrypt_cost: 3,
            ..HashCeiling::DEFAULT
        });
        let verdict = lowered.admit().unwrap().check(b"pw", Some(&bcrypt4)).await;
        assert_eq!(verdict.unwrap(), Verdict::OverCeiling);
        assert!(!lowered.verify(b"pw", Some(&bcrypt4)).await.unwrap());
        // The server's own hashes are always under its ceiling, however low it is set.
        let own = lowered.hash(&SecretString::from("x")).await.unwrap();
        let verdict = lowered.admit().unwrap().check(b"x", Some(&own)).await;
        assert_eq!(verdict.unwrap(), Verdict::Match);
        let verdict = lowered.admit().unwrap().check(b"x", None).await;
        assert_eq!(verdict.unwrap(), Verdict::Mismatch);
    }

    #[test]
    fn owasp_minimum_is_the_default() {
        assert!(HashParams::default().meets_owasp());
        assert!(!CHEAP.meets_owasp());
    }
}
