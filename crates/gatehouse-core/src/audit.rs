//! Audit events: what happened (login success and failure, refresh, reuse, revocation, lockout,
//! admin changes), to which client and user, from which address and in which request. Events
//! are stored in the database; they never hold a password, secret or token. [`RequestContext`]
//! is what the HTTP layer tells the core about a request.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;

use crate::clock::Clock;
use crate::random;
use crate::rejection::{Rejection, Rejections, DEFAULT_REJECTED_EVENT_WINDOW};
use crate::store::EventStore;
pub use crate::store::{Event, EventFilter};
use crate::telemetry;
use crate::user::MAX_USERNAME_LEN;

/// The longest `client_id` kept in an event, in bytes; a longer one is cut on a character
/// boundary.
pub const MAX_EVENT_CLIENT_ID_LEN: usize = 128;

/// Where a request came from, as computed by the HTTP layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The client address: the TCP peer, or the right-most untrusted `X-Forwarded-For` entry
    /// behind a trusted proxy.
    pub ip: Option<IpAddr>,
    /// The end user's address as vouched for by the client (`auth0-forwarded-for`); used only
    /// for a confidential client whose settings allow it.
    pub forwarded_for: Option<IpAddr>,
    /// The request's id, for correlating events with logs.
    pub request_id: Option<String>,
    /// The request's `User-Agent` (at most [`crate::store::MAX_USER_AGENT_LEN`] bytes), kept
    /// with the session a login opens.
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// The context in which `client`'s request is judged once the request proved the client with
    /// a secret or an assertion: the address it vouches for with `auth0-forwarded-for` when it
    /// is confidential and its settings trust it, else unchanged. The client authenticator
    /// calls it, only for such requests ([`crate::client_auth::Authenticated`]).
    pub fn for_client(&self, client: &crate::client::Client) -> RequestContext {
        let mut ctx = self.clone();
        let confidential = !client.is_public() || client.settings.jwks.is_some();
        if client.settings.trust_forwarded_for && confidential {
            if let Some(ip) = self.forwarded_for {
                ctx.ip = Some(ip);
            }
        }
        ctx.forwarded_for = None;
        ctx
    }
}

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A password login that issued tokens.
    LoginSuccess,
    /// Tokens issued without a user's login: the client credentials grant (`detail.grant_type`,
    /// `detail.scope`), about the client alone.
    TokenIssued,
    /// A refused login; `detail.reason` says why.
    LoginFailure,
    /// A refused client authentication (`detail.reason`, `detail.repeats`), at most one per
    /// address and reason a minute (see [`crate::client_auth`]).
    ClientAuthFailure,
    /// A refresh token was exchanged.
    Refresh,
    /// A used refresh token came back: its family was revoked (`detail.family_id`).
    RefreshReuse,
    /// A token was revoked (RFC 7009).
    Revocation,
    /// An account was locked (`detail.until`).
    Lockout,
    /// An account was unlocked by an administrator.
    Unlock,
    /// The admin API or CLI changed a client or user (`detail.action`).
    AdminChange,
    /// A user enrolled a second factor (`detail.authenticator_id`; active after its first code).
    MfaEnrolment,
    /// A second factor was accepted (`detail.authenticator_type`, `detail.activated`).
    MfaSuccess,
    /// A second-factor code was refused (`detail.reason`: wrong_code, reused_code, locked).
    MfaFailure,
    /// An administrator removed a factor (`detail.authenticator_id`).
    MfaRemoval,
    /// Logins refused by the per-address throttle before any credential check, aggregated:
    /// at most one per address and window (`detail.count`, `detail.window`; see
    /// [`crate::rejection`]).
    LoginThrottled,
    /// Second-factor codes refused by the per-user bucket before the code was checked,
    /// aggregated as [`EventKind::LoginThrottled`] is, per user.
    MfaThrottled,
    /// Sessions were ended (`detail.sessions`: their ids; `detail.reason`: session_limit,
    /// admin, password_change, user_disabled, user_deleted, client_deleted, factor_removed).
    SessionRevoked,
    /// A login's (right) password was found on a breached or common list (`detail.list`:
    /// common, blocklist, online; `detail.action`: flag or block). Never the password.
    PasswordBreached,
    /// A login's password is older than `--password-max-age-days`; the user is marked.
    PasswordExpired,
    /// A user changed their own password (`POST /account/password`).
    PasswordChanged,
    /// An administrator knowingly set a password that fails the policy
    /// (`--allow-weak-password`; `detail.rule`, `detail.via`).
    WeakPasswordAllowed,
    /// A webhook endpoint was disabled by the server (`detail.webhook_id`, `detail.url`,
    /// `detail.reason`: `failing` for longer than `--webhook-disable-after`, or `gone`: it
    /// answered 410).
    WebhookDisabled,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginSuccess => "login_success",
            EventKind::TokenIssued => "token_issued",
            EventKind::LoginFailure => "login_failure",
            EventKind::ClientAuthFailure => "client_auth_failure",
            EventKind::Refresh => "refresh",
            EventKind::RefreshReuse => "refresh_reuse",
            EventKind::Revocation => "revocation",
            EventKind::Lockout => "lockout",
            EventKind::Unlock => "unlock",
            EventKind::AdminChange => "admin_change",
            EventKind::MfaEnrolment => "mfa_enrolment",
            EventKind::MfaSuccess => "mfa_success",
            EventKind::MfaFailure => "mfa_failure",
            EventKind::MfaRemoval => "mfa_removal",
            EventKind::LoginThrottled => "login_throttled",
            EventKind::MfaThrottled => "mfa_throttled",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::PasswordBreached => "password_breached",
            EventKind::PasswordExpired => "password_expired",
            EventKind::PasswordChanged => "password_changed",
            EventKind::WeakPasswordAllowed => "weak_password_allowed",
            EventKind::WebhookDisabled => "webhook_disabled",
        }
    }

    /// Every kind, in declaration order: what a webhook's event filter may name.
    pub const ALL: [EventKind; 22] = [
        EventKind::LoginSuccess,
        EventKind::TokenIssued,
        EventKind::LoginFailure,
        EventKind::ClientAuthFailure,
        EventKind::Refresh,
        EventKind::RefreshReuse,
        EventKind::Revocation,
        EventKind::Lockout,
        EventKind::Unlock,
        EventKind::AdminChange,
        EventKind::MfaEnrolment,
        EventKind::MfaSuccess,
        EventKind::MfaFailure,
        EventKind::MfaRemoval,
        EventKind::LoginThrottled,
        EventKind::MfaThrottled,
        EventKind::SessionRevoked,
        EventKind::PasswordBreached,
        EventKind::PasswordExpired,
        EventKind::PasswordChanged,
        EventKind::WeakPasswordAllowed,
        EventKind::WebhookDisabled,
    ];

    /// The kind stored as `name`.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Whom an event is about: the client of the request and the end user, where known.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventSubject<'a> {
    /// The client's `client_id`.
    pub client_id: Option<&'a str>,
    /// The end user's username.
    pub user: Option<&'a str>,
}

impl<'a> EventSubject<'a> {
    /// An event about `client_id` alone.
    pub fn client(client_id: &'a str) -> Self {
        EventSubject {
            client_id: Some(client_id),
            user: None,
        }
    }

    /// An event about `user` alone.
    pub fn user(user: &'a str) -> Self {
        EventSubject {
            user: Some(user),
            ..Self::default()
        }
    }

    /// An event about `user`'s login through `client_id`.
    pub fn login(client_id: &'a str, user: &'a str) -> Self {
        EventSubject {
            user: Some(user),
            ..Self::client(client_id)
        }
    }
}

/// Writes events. A failed write is logged, never fails the request it describes. Usernames
/// are kept to [`MAX_USERNAME_LEN`] bytes and client ids to [`MAX_EVENT_CLIENT_ID_LEN`], so a
/// request cannot make a row larger than that whatever it sends.
pub struct AuditLog {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    rejections: Rejections,
}

impl AuditLog {
    /// An audit log over `store`, aggregating rejected requests over windows of
    /// [`DEFAULT_REJECTED_EVENT_WINDOW`] seconds.
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>) -> Self {
        AuditLog {
            store,
            clock,
            rejections: Rejections::new(DEFAULT_REJECTED_EVENT_WINDOW),
        }
    }

    /// Aggregates rejected requests over windows of `secs` seconds instead.
    pub fn with_rejected_event_window(mut self, secs: i64) -> Self {
        self.rejections = Rejections::new(secs);
        self
    }

    /// A request refused before any credential check, for `reason`, of the bucket `bucket`
    /// (the address, or the user id): counted in the metric, and recorded as one aggregated
    /// event per bucket and window (never one row per request). `about` names the request's
    /// client and user in that event.
    pub async fn rejected(
        &self,
        reason: Rejection,
        bucket: &str,
        ctx: &RequestContext,
        about: EventSubject<'_>,
    ) {
        telemetry::request_rejected(reason);
        let kind = match reason {
            Rejection::IpThrottled => EventKind::LoginThrottled,
            Rejection::MfaThrottled => EventKind::MfaThrottled,
            // Overload is not an address's doing: the metric says enough.
            Rejection::Overloaded => return,
        };
        let Some(aggregate) = self.rejections.count(reason, bucket, self.clock.now()) else {
            return;
        };
        let mut detail = serde_json::json!({
            "reason": reason.as_str(),
            "count": aggregate.count,
            "window": self.rejections.window(),
        });
        let mut ctx = ctx.clone();
        let mut about = about;
        if aggregate.overflow {
            // Shared by many buckets: name none of them.
            detail["overflow"] = Value::Bool(true);
            ctx.ip = None;
            about = EventSubject::default();
        } else {
            // The address that set the event off is in `ip`; the bucket names all it stands
            // for (an IPv6 prefix, or the user of a code bucket).
            detail["bucket"] = Value::String(bucket.to_owned());
        }
        self.record(kind, &ctx, about, detail).await;
    }

    /// Records one event.
    pub async fn record(
        &self,
        kind: EventKind,
        ctx: &RequestContext,
        about: EventSubject<'_>,
        detail: Value,
    ) {
        let event = self.event(kind, ctx, about, detail);
        if let Err(err) = self.store.insert_event(&event).await {
            tracing::warn!(%err, kind = kind.as_str(), "could not record an audit event");
        }
    }

    /// Makes an event to store with the change it describes (see
    /// [`TokenStore::rotate_refresh_token_recorded`](crate::store::TokenStore::rotate_refresh_token_recorded)).
    pub fn event(
        &self,
        kind: EventKind,
        ctx: &RequestContext,
        about: EventSubject<'_>,
        detail: Value,
    ) -> Event {
        Event {
            id: random::sortable_id(),
            at: self.clock.now(),
            kind: kind.as_str().to_owned(),
            client_id: about
                .client_id
                .map(|id| capped(id, MAX_EVENT_CLIENT_ID_LEN).to_owned()),
            user: about
                .user
                .map(|user| capped(user, MAX_USERNAME_LEN).to_owned()),
            ip: ctx.ip.map(|ip| ip.to_string()),
            request_id: ctx.request_id.clone(),
            detail,
        }
    }

    /// The events matching `filter`, newest first.
    pub async fn list(&self, filter: &EventFilter) -> Result<Vec<Event>, crate::Error> {
        Ok(self.store.list_events(filter).await?)
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub fn capped(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once() {
        let names: std::collections::HashSet<_> =
            EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), EventKind::ALL.len());
        for kind in EventKind::ALL {
            // Exhaustive: a new kind fails to compile here until it is added to ALL too.
            match kind {
                EventKind::LoginSuccess
                | EventKind::TokenIssued
                | EventKind::LoginFailure
                | EventKind::ClientAuthFailure
                | EventKind::Refresh
                | EventKind::RefreshReuse
                | EventKind::Revocation
                | EventKind::Lockout
                | EventKind::Unlock
                | EventKind::AdminChange
                | EventKind::MfaEnrolment
                | EventKind::MfaSuccess
                | EventKind::MfaFailure
                | EventKind::MfaRemoval
                | EventKind::LoginThrottled
                | EventKind::MfaThrottled
                | EventKind::SessionRevoked
                | EventKind::PasswordBreached
                | EventKind::PasswordExpired
                | EventKind::PasswordChanged
                | EventKind::WeakPasswordAllowed
                | EventKind::WebhookDisabled => {}
            }
            assert_eq!(EventKind::from_name(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn capping_keeps_whole_characters() {
        assert_eq!(capped("abc", 5), "abc");
        assert_eq!(capped("abcdef", 3), "abc");
        // "é" is two bytes: cutting inside it drops it.
        assert_eq!(capped("aé", 2), "a");
        assert_eq!(capped(&"ü".repeat(200), MAX_USERNAME_LEN).len(), 256);
    }
}
