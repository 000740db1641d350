//! [`LoginGuard`]: the brute-force defence every credential check goes through. It applies the
//! per-account [`LockoutPolicy`] (reserving each attempt in the store before the credential is
//! checked, by compare and swap) and the per-address [`ThrottlePolicy`] (taking each attempt
//! from the address's bucket before the check, atomically, and giving it back on success), and
//! records the lockouts it decided in the [`AuditLog`] it is given. Policies are pure
//! ([`crate::lockout`], [`crate::throttle`]); the store only swaps state atomically.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;

use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::clock::Clock;
use crate::error::Error;
use crate::lockout::{AttemptState, LockoutPolicy, Reservation};
use crate::store::GuardStore;
use crate::throttle::{source_key, ThrottlePolicy, DEFAULT_IPV6_PREFIX};

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

/// An attempt taken from an address's bucket by [`LoginGuard::reserve_source`].
#[derive(Debug)]
#[must_use]
pub struct SourceAttempt {
    /// `None` when the address is not throttled (no policy, allowlisted, unknown).
    ip: Option<String>,
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

/// The brute-force defence, shared by the password grant, the second factor, client
/// authentication (the per-address throttle only) and the admin service.
pub struct LoginGuard {
    store: Arc<dyn GuardStore>,
    clock: Arc<dyn Clock>,
    lockout: Option<LockoutPolicy>,
    throttle: Option<ThrottlePolicy>,
    /// The IPv6 prefix length that keys the throttle's buckets (see [`source_key`]).
    ipv6_prefix: u8,
    audit: Arc<AuditLog>,
}

impl LoginGuard {
    /// A guard with both defences off (see [`LoginGuard::with_lockout`] and
    /// [`LoginGuard::with_throttle`]), recording the lockouts it sets in `audit`.
    pub fn new(store: Arc<dyn GuardStore>, clock: Arc<dyn Clock>, audit: Arc<AuditLog>) -> Self {
        LoginGuard {
            audit,
            store,
            clock,
            lockout: None,
            throttle: None,
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
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

    /// Keys the throttle's IPv6 buckets by this prefix length instead of `/64`.
    pub fn with_ipv6_prefix(mut self, prefix: u8) -> Self {
        self.ipv6_prefix = prefix;
        self
    }

    /// The throttle's bucket of `ip` (an IPv6 address shares it with its prefix): the key the
    /// aggregated events of rejected requests use too, so a flood from one /64 is one event.
    pub fn bucket(&self, ip: IpAddr) -> String {
        source_key(ip, self.ipv6_prefix)
    }

    /// The current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Takes one attempt from `ip`'s bucket before a password is checked, or
    /// `Err(TooManyRequests)` while the bucket is full. The check and the take are one atomic
    /// store statement, so concurrent guesses from one address cannot overrun the limit: at most
    /// `limit` of them get past here. Give the attempt back with [`LoginGuard::refund_source`]
    /// when the login succeeds; a failed one keeps it. The bucket is the address's
    /// [`source_key`]: an IPv6 address shares it with its prefix.
    pub async fn reserve_source(&self, ip: Option<IpAddr>) -> Result<SourceAttempt, Error> {
        let none = SourceAttempt { ip: None };
        let (Some(policy), Some(ip)) = (&self.throttle, ip) else {
            return Ok(none);
        };
        if policy.is_allowed(&ip) {
            return Ok(none);
        }
        let ip = source_key(ip, self.ipv6_prefix);
        let now = self.clock.now();
        let taken = self
            .store
            .reserve_source_attempt(&ip, now, policy.interval, policy.room())
            .await?;
        if taken.is_some() {
            return Ok(SourceAttempt { ip: Some(ip) });
        }
        let drained_at = self.store.source_drained_at(&ip).await?;
        // The bucket may have drained between the two statements; ask again later all the same.
        let retry_after = policy.retry_after(drained_at, now).unwrap_or(1);
        Err(Error::TooManyRequests { retry_after })
    }

    /// Gives back an attempt of [`LoginGuard::reserve_source`]: the credential was right (or was
    /// never judged), so it is not a failure of the address.
    pub async fn refund_source(&self, attempt: SourceAttempt) {
        let (Some(policy), Some(ip)) = (&self.throttle, attempt.ip) else {
            return;
        };
        if let Err(err) = self.store.refund_source_attempt(&ip, policy.interval).await {
            tracing::warn!(%err, "could not give back a login attempt of an address");
        }
    }

    /// Counts one attempt on the account `key` (`user:<id>`) before its
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
        Err(Error::overloaded())
    }

    /// The attempt succeeded: the account's count starts again from zero.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), Error> {
        if let Some(key) = attempt.key {
            self.store.clear_login_attempts(&key).await?;
        }
        Ok(())
    }

    /// The attempt failed (it keeps its count): records the lockout it set, if it set one, as
    /// an event of `client_id` and `user` in the request `ctx`.
    pub async fn failed(&self, attempt: Attempt, ctx: &RequestContext, about: EventSubject<'_>) {
        if !attempt.locks {
            return;
        }
        // The account's kind is the prefix of its key (see `user_key`).
        let kind = attempt.key.as_deref().and_then(|k| k.split_once(':'));
        let detail = json!({ "until": attempt.until, "key": kind.map(|(kind, _)| kind) });
        self.audit
            .record(EventKind::Lockout, ctx, about, detail)
            .await;
    }

    /// The credential of the attempt was right but the login waits for a second factor: the
    /// attempt is given back (one failure fewer, and the lock it set lifted), so the count
    /// neither grows nor restarts until the whole login succeeds or fails.
    pub async fn refund(&self, attempt: Attempt) -> Result<(), Error> {
        let (Some(policy), Some(key)) = (&self.lockout, attempt.key) else {
            return Ok(());
        };
        let set_lock = attempt.locks.then_some(attempt.until);
        for _ in 0..SWAP_ROUNDS {
            let state = self.store.login_attempts(&key).await?;
            let Some(next) = policy.refund(&state, set_lock) else {
                return Ok(());
            };
            if self.store.swap_login_attempts(&key, &next).await? {
                return Ok(());
            }
        }
        Err(Error::overloaded())
    }

    /// Forgets an account's failures and lock; `true` when it had any.
    pub async fn unlock(&self, key: &str) -> Result<bool, Error> {
        Ok(self.store.clear_login_attempts(key).await?)
    }

    /// Whether the account `key` is locked now (no lockout policy: never). A locked account
    /// cannot refresh either.
    pub async fn is_locked(&self, key: &str) -> Result<bool, Error> {
        let Some(policy) = &self.lockout else {
            return Ok(false);
        };
        let state = self.store.login_attempts(key).await?;
        Ok(policy.locked_until(&state, self.clock.now()).is_some())
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
