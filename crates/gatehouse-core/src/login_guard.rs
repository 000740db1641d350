//! [`LoginGuard`]: the brute-force defence every credential check goes through. It applies the
//! per-account [`LockoutPolicy`] (reserving each attempt in the store before the credential is
//! checked, by compare and swap) and the per-address [`ThrottlePolicy`], and records what it
//! decided in the [`AuditLog`]. Policies are pure ([`crate::lockout`], [`crate::throttle`]); the
//! store only swaps state atomically.

use std::net::IpAddr;
use std::sync::Arc;

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::Error;
use crate::lockout::{AttemptState, LockoutPolicy, Reservation};
use crate::store::Store;
use crate::throttle::ThrottlePolicy;

/// Compare-and-swap rounds before an attempt is shed as overload; each lost round means another
/// attempt on the same account was counted, so only a flood of them gets this far.
const SWAP_ROUNDS: usize = 64;

/// An attempt that was counted: tell the guard how it ended.
#[derive(Debug)]
#[must_use]
pub struct Attempt {
    key: Option<String>,
    /// Whether a failure of this attempt locks the account.
    pub locks: bool,
    /// Until when it locks the account, when it does.
    pub until: i64,
}

/// What [`LoginGuard::reserve`] found.
#[derive(Debug)]
pub enum Admission {
    /// Go on and check the credential.
    Proceed(Attempt),
    /// The account is locked: do not check the real credential.
    Locked {
        /// Unix seconds.
        until: i64,
    },
}

/// The brute-force defence and the audit log, shared by the password grant, client
/// authentication and the admin service.
pub struct LoginGuard {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    lockout: Option<LockoutPolicy>,
    throttle: Option<ThrottlePolicy>,
    /// Where events go.
    pub audit: Arc<AuditLog>,
}

impl LoginGuard {
    /// A guard with both defences off (see [`LoginGuard::with_lockout`] and
    /// [`LoginGuard::with_throttle`]), recording events.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        LoginGuard {
            audit: Arc::new(AuditLog::new(store.clone(), clock.clone())),
            store,
            clock,
            lockout: None,
            throttle: None,
        }
    }

    /// Turns on per-account lockout.
    pub fn with_lockout(mut self, policy: Option<LockoutPolicy>) -> Self {
        self.lockout = policy;
        self
    }

    /// Turns on the per-address throttle.
    pub fn with_throttle(mut self, policy: Option<ThrottlePolicy>) -> Self {
        self.throttle = policy;
        self
    }

    /// The current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// `Err(TooManyRequests)` while `ip` is throttled.
    pub async fn check_source(&self, ip: Option<IpAddr>) -> Result<(), Error> {
        let (Some(policy), Some(ip)) = (&self.throttle, ip) else {
            return Ok(());
        };
        if policy.is_allowed(&ip) {
            return Ok(());
        }
        let drained_at = self.store.source_drained_at(&ip.to_string()).await?;
        match policy.retry_after(drained_at, self.clock.now()) {
            Some(retry_after) => Err(Error::TooManyRequests { retry_after }),
            None => Ok(()),
        }
    }

    /// Adds a failed login to `ip`'s bucket.
    pub async fn source_failed(&self, ip: Option<IpAddr>) {
        let (Some(policy), Some(ip)) = (&self.throttle, ip) else {
            return;
        };
        if policy.is_allowed(&ip) {
            return;
        }
        let added = self
            .store
            .add_source_failure(&ip.to_string(), self.clock.now(), policy.interval)
            .await;
        if let Err(err) = added {
            tracing::warn!(%err, "could not count a failed login for its address");
        }
    }

    /// Counts one attempt on the account `key` (`user:<id>`, `client:<id>`) before its
    /// credential is checked, or finds the account locked.
    pub async fn reserve(&self, key: &str) -> Result<Admission, Error> {
        let Some(policy) = &self.lockout else {
            return Ok(Admission::Proceed(Attempt {
                key: None,
                locks: false,
                until: 0,
            }));
        };
        for _ in 0..SWAP_ROUNDS {
            let state = self.store.login_attempts(key).await?;
            match policy.reserve(&state, self.clock.now()) {
                Reservation::Locked { until } => return Ok(Admission::Locked { until }),
                Reservation::Proceed { next, locks } => {
                    if self.store.swap_login_attempts(key, &next).await? {
                        return Ok(Admission::Proceed(Attempt {
                            key: Some(key.to_owned()),
                            locks,
                            until: next.locked_until,
                        }));
                    }
                }
            }
        }
        Err(Error::Overloaded { retry_after: 1 })
    }

    /// The attempt succeeded: the account's count starts again from zero.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), Error> {
        if let Some(key) = attempt.key {
            self.store.clear_login_attempts(&key).await?;
        }
        Ok(())
    }

    /// Forgets an account's failures and lock; `true` when it had any.
    pub async fn unlock(&self, key: &str) -> Result<bool, Error> {
        Ok(self.store.clear_login_attempts(key).await?)
    }

    /// The stored state of an account's attempts.
    pub async fn state(&self, key: &str) -> Result<AttemptState, Error> {
        Ok(self.store.login_attempts(key).await?)
    }
}

/// The lockout key of a user.
pub fn user_key(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The lockout key of a client.
pub fn client_key(client_id: &str) -> String {
    format!("client:{client_id}")
}
