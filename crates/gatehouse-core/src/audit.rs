//! Audit events: what happened (login success and failure, refresh, reuse, revocation, lockout,
//! admin changes), to which client and user, from which address and in which request. Events
//! are stored in the database; they never hold a password, secret or token. [`RequestContext`]
//! is what the HTTP layer tells the core about a request.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;

use crate::clock::Clock;
use crate::random;
use crate::store::EventStore;
pub use crate::store::{Event, EventFilter};

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
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginSuccess => "login_success",
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
        }
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

/// Writes events. A failed write is logged, never fails the request it describes.
pub struct AuditLog {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
}

impl AuditLog {
    /// An audit log over `store`.
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>) -> Self {
        AuditLog { store, clock }
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
            client_id: about.client_id.map(str::to_owned),
            user: about.user.map(str::to_owned),
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
