//! The Resource Owner Password Credentials grant (RFC 6749 §4.3).

use secrecy::{ExposeSecret, SecretString};

use serde_json::json;

use super::{Grants, Tokens};
use crate::audit::{EventKind, EventSubject, RequestContext};
use crate::client::BreachedPasswordPolicy;
use crate::client::{Client, GrantType};
use crate::clock::Stopwatch;
use crate::error::Error;
use crate::login_guard::{user_key, Admission, Attempt};
use crate::password::{HashPermit, Verdict};
use crate::password_policy::normalize;
use crate::password_rules::LoginFinding;
use crate::rejection::Rejection;
use crate::scope::ScopeSet;
use crate::telemetry;
use crate::user::{User, Username, MAX_PASSWORD_LEN};

/// Said for an unknown user and for a wrong password alike.
pub(super) const BAD_CREDENTIALS: &str = "the username or password is incorrect";

impl Grants {
    pub(super) async fn password(
        &self,
        ctx: &RequestContext,
        client: &Client,
        username: &str,
        password: &SecretString,
        requested: Option<ScopeSet>,
        otp: Option<SecretString>,
    ) -> Result<Tokens, Error> {
        if !client.allows_grant(GrantType::Password) {
            return Err(Error::UnauthorizedClient(
                "this client may not use the password grant".into(),
            ));
        }
        let typed = password.expose_secret();
        if typed.len() > MAX_PASSWORD_LEN {
            return Err(Error::invalid_request(format!(
                "password must be at most {MAX_PASSWORD_LEN} bytes"
            )));
        }
        let scope = resolve_scope(client, requested)?;
        // A place for the hash is taken before anything else, so a request shed under overload
        // costs no database work and counts no attempt against the account's lockout; its
        // answer is held (a timer, no work) so a client retrying at once comes back later.
        let permit = match self.hasher.admit() {
            Ok(permit) => permit,
            Err(_) => {
                let about = EventSubject::client(client.id.as_str());
                let bucket = ctx.ip.map(|ip| self.guard.bucket(ip)).unwrap_or_default();
                self.audit
                    .rejected(Rejection::Overloaded, &bucket, ctx, about)
                    .await;
                return Err(self.hasher.hold_shed().await);
            }
        };
        let (user, attempt, unnormalised) = self
            .check_password(ctx, client, username, typed, permit)
            .await?;
        // Judged before a rehash below replaces the hash the finding is recorded against.
        let user = match self.judge_password(ctx, client, user, typed).await {
            Ok(user) => user,
            Err(err) => {
                // The password was right: not a failure of the account.
                self.guard.refund(attempt).await?;
                return Err(err);
            }
        };
        // A password its store checks has no local hash to upgrade.
        let local = !user.is_checked_externally();
        if local && (unnormalised || self.hasher.needs_rehash(&user.password_hash)) {
            self.upgrade_hash(&user, &normalize(typed)).await;
        }

        let granted = user.entitled(&scope);
        if granted.is_empty() && !scope.is_empty() {
            // The password was right: not a failure of the account, nor a completed login.
            self.guard.refund(attempt).await?;
            return Err(Error::InvalidScope(
                "the user is not entitled to any of the requested scopes".into(),
            ));
        }
        // The account's count is settled by the second factor: cleared once the whole login
        // succeeds, kept when a code sent with the password is wrong.
        let factor = self
            .second_factor
            .require(ctx, client, &user, &granted, otp.as_ref(), attempt)
            .await?;
        let method = super::LoginMethod::password(factor);
        self.issue_login(ctx, client, &user, granted, "password", method)
            .await
    }

    /// The user whose password `typed` is, behind the address throttle and the account
    /// lockout; an unknown user and a wrong password are the same `invalid_grant`, after the same
    /// hash work. The account's attempt stays counted until the caller settles it (the login
    /// may still need its second factor). The flag says the stored hash is of the password
    /// as typed rather than of its NFKC form (set before passwords were normalised): the
    /// caller rehashes it.
    async fn check_password(
        &self,
        ctx: &RequestContext,
        client: &Client,
        username: &str,
        typed: &str,
        permit: HashPermit<'_>,
    ) -> Result<(User, Attempt, bool), Error> {
        let failed = |reason: &'static str| self.login_failed(ctx, client, username, reason);
        let watch = Stopwatch::start();
        // Taken before any hash work, so concurrent guesses cannot overrun the address's limit.
        // A throttled request writes no row of its own (see `AuditLog::rejected`).
        let source = match self.guard.reserve_source(ctx.ip).await {
            Ok(source) => source,
            Err(err) => {
                if let (Error::TooManyRequests { .. }, Some(ip)) = (&err, ctx.ip) {
                    let about = EventSubject::client(client.id.as_str());
                    let bucket = self.guard.bucket(ip);
                    self.audit
                        .rejected(Rejection::IpThrottled, &bucket, ctx, about)
                        .await;
                }
                return Err(err);
            }
        };
        // A username that cannot be normalized cannot exist; it costs a hash all the same.
        let name = Username::parse(username).ok();
        let user = match &name {
            Some(name) => self.users.find_user(name).await?,
            None => None,
        };
        // A disabled account costs the dummy hash and gets the wrong password's answer, so
        // nobody can tell it exists; it counts toward no lockout (it logs in for nobody).
        if user.as_ref().is_some_and(|u| !u.active) {
            permit.check_typed(typed, None).await?;
            failed("disabled").await;
            self.external.equalise(watch).await;
            return Err(Error::InvalidGrant(BAD_CREDENTIALS.into()));
        }
        // Only existing accounts are counted, so guessing names grows no table. A locked
        // account costs the dummy hash and gets the wrong password's answer.
        let attempt = match &user {
            Some(u) => match self.guard.reserve(&user_key(&u.id)).await? {
                Admission::Proceed(attempt) => Some(attempt),
                Admission::Locked { .. } => {
                    permit.check_typed(typed, None).await?;
                    failed("locked").await;
                    self.external.equalise(watch).await;
                    return Err(Error::InvalidGrant(BAD_CREDENTIALS.into()));
                }
            },
            None => None,
        };
        // A user the database does not hold, or holds with a password its store checks, is
        // asked of the external stores (issue 22).
        let external = match (&user, &name) {
            (Some(u), Some(name)) if u.is_checked_externally() => Some(name.clone()),
            (None, Some(name)) if !self.external.is_empty() => Some(name.clone()),
            _ => None,
        };
        if let Some(name) = external {
            let login = super::external::ExternalLogin {
                ctx,
                client,
                raw: username,
                name,
                typed,
                watch,
            };
            return self
                .check_external(login, user, attempt, source, permit)
                .await;
        }
        let stored = user.as_ref().map(|u| u.password_hash.as_str());
        let (verdict, unnormalised) = match permit.check_typed(typed, stored).await {
            Ok(checked) => checked,
            // Failed before judging the password: not a failure of the address.
            Err(err) => {
                self.guard.refund_source(source).await;
                return Err(err);
            }
        };
        match (user, attempt) {
            (Some(user), Some(attempt)) if verdict == Verdict::Match => {
                self.guard.refund_source(source).await;
                Ok((user, attempt, unnormalised))
            }
            (_, attempt) => {
                // A stored hash over the cost ceiling fails like a wrong password; only the
                // event says why, for the operator.
                failed(match verdict {
                    Verdict::OverCeiling => "hash_over_ceiling",
                    _ => "bad_credentials",
                })
                .await;
                if let Some(attempt) = attempt {
                    let about = EventSubject::login(client.id.as_str(), username);
                    self.guard.failed(attempt, ctx, about).await;
                }
                self.external.equalise(watch).await;
                Err(Error::InvalidGrant(BAD_CREDENTIALS.into()))
            }
        }
    }

    pub(super) async fn login_failed(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &str,
        reason: &str,
    ) {
        let detail = json!({ "grant_type": "password", "reason": reason });
        self.audit
            .record(
                EventKind::LoginFailure,
                ctx,
                EventSubject::login(client.id.as_str(), user),
                detail,
            )
            .await;
    }

    /// What the rules find wrong with `user`'s right password `typed` for `client` (a breached
    /// list holds it, or it is past its maximum age): recorded on the user (so the next login
    /// asks no list again) with an event and a metric, and the login refused with
    /// `password_leaked` when the client blocks breached passwords. The user as they now are.
    async fn judge_password(
        &self,
        ctx: &RequestContext,
        client: &Client,
        mut user: User,
        typed: &str,
    ) -> Result<User, Error> {
        let now = self.clock.now();
        let Some(finding) = self
            .rules
            .at_login(&client.settings, &user, typed, now)
            .await
        else {
            return Ok(user);
        };
        let block = matches!(finding, LoginFinding::Breached(_))
            && self.rules.breached_mode(Some(&client.settings)) == BreachedPasswordPolicy::Block;
        let action = if block { "block" } else { "flag" };
        let reason = finding.reason();
        if user.password_change_required.as_deref() != Some(reason.as_str()) {
            // Only while the hash is the one just checked: a password changed meanwhile is not
            // marked for what was found of the old one.
            let hash = user.password_hash.clone();
            match self
                .users
                .require_password_change(&user.id, &hash, Some(&reason))
                .await
            {
                Ok(_) => user.password_change_required = Some(reason),
                Err(err) => tracing::warn!(user = %user.id, %err, "could not mark the password"),
            }
        }
        let (kind, detail, label) = match finding {
            LoginFinding::Breached(list) => (
                EventKind::PasswordBreached,
                json!({ "list": list.as_str(), "action": action }),
                list.as_str(),
            ),
            LoginFinding::Expired => (
                EventKind::PasswordExpired,
                json!({ "password_changed_at": user.password_changed_at }),
                "expired",
            ),
        };
        metrics::counter!(telemetry::PASSWORD_FINDINGS, "finding" => label, "action" => action)
            .increment(1);
        let about = EventSubject::login(client.id.as_str(), user.username.as_str());
        self.audit.record(kind, ctx, about, detail).await;
        if block {
            return Err(Error::PasswordLeaked);
        }
        Ok(user)
    }

    /// Replaces an imported (bcrypt, PBKDF2), weaker argon2 or un-normalised hash with one of
    /// the configured parameters of the normalised password, now that the password is known
    /// to be right. A failure is logged, not fatal: the login already succeeded and the next
    /// one tries again.
    pub(super) async fn upgrade_hash(&self, user: &User, password: &str) {
        let password = SecretString::from(password.to_owned());
        let result = match self.hasher.hash(&password).await {
            Ok(hash) => self
                .users
                .set_password_hash(&user.username, &hash, self.clock.now())
                .await
                .map_err(Error::from),
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => {
                tracing::info!(user = %user.id, "password rehashed with the current argon2id parameters")
            }
            Err(err) => tracing::warn!(user = %user.id, %err, "could not rehash the password"),
        }
    }
}

/// RFC 6749 §3.3: the requested scope, or the client's defaults; a scope the client may not
/// have is `invalid_scope`.
pub(super) fn resolve_scope(
    client: &Client,
    requested: Option<ScopeSet>,
) -> Result<ScopeSet, Error> {
    let Some(requested) = requested else {
        return Ok(client.default_scopes());
    };
    match requested.first_missing_from(&client.allowed_scopes()) {
        Some(s) => Err(Error::InvalidScope(
            format!("the client is not allowed the scope {s}").into(),
        )),
        None => Ok(requested),
    }
}
