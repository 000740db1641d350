//! Sessions of [`AdminService`]: listed (`GET /User/{id}/sessions`, `GET /Client/{id}/sessions`,
//! `session list`) and ended (`DELETE /User/{id}/sessions[/{sid}]`, `session revoke`), and the
//! sessions other changes end: a password change (per [`PasswordChangeSessions`]), a disabled
//! user, a removed factor, a removed client or user. Every ending is one `session_revoked` event
//! naming the sessions and the reason. A listed session never shows a token.

use serde_json::{json, Value};

use super::{bundle, AdminService};
use crate::audit::{EventKind, EventSubject, RequestContext};
use crate::error::Error;
use crate::store::{Session, SessionFilter};

/// Which sessions a password change ends (`--sessions-on-password-change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordChangeSessions {
    /// Every session of the user (the default).
    #[default]
    All,
    /// Every session but the one the change names as its own (`keep_session`).
    AllButCurrent,
    /// None.
    None,
}

impl PasswordChangeSessions {
    /// The setting's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordChangeSessions::All => "all",
            PasswordChangeSessions::AllButCurrent => "all-but-current",
            PasswordChangeSessions::None => "none",
        }
    }

    /// Parses the setting's name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "all" => Some(PasswordChangeSessions::All),
            "all-but-current" => Some(PasswordChangeSessions::AllButCurrent),
            "none" => Some(PasswordChangeSessions::None),
            _ => None,
        }
    }
}

/// Which sessions a listing or revocation is about: a user's (by username), a client's, or
/// both; `id` narrows to one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// The user's username.
    pub username: Option<String>,
    /// The client's id.
    pub client_id: Option<String>,
    /// One session.
    pub id: Option<String>,
}

impl AdminService {
    /// The live sessions `query` names, newest first; `NotFound` for an unknown user or client.
    pub async fn sessions(&self, query: &SessionQuery) -> Result<Vec<Session>, Error> {
        let filter = self.session_filter(query).await?;
        Ok(self.store.list_sessions(&filter, self.clock.now()).await?)
    }

    /// `GET /User/{id}/sessions`, `GET /Client/{id}/sessions`: a Bundle of Session resources.
    pub async fn session_bundle(&self, query: &SessionQuery) -> Result<Value, Error> {
        let all = self.sessions(query).await?;
        Ok(bundle(all.iter().map(render).collect()))
    }

    /// Ends the live sessions `query` names; their ids. `NotFound` for an unknown user or
    /// client, or a named session that is not a live one of theirs.
    pub async fn revoke_sessions(
        &self,
        ctx: &RequestContext,
        query: &SessionQuery,
    ) -> Result<Vec<String>, Error> {
        let filter = self.session_filter(query).await?;
        // A session named by its id alone: its user and client are read first, so that the
        // event can be found by them (`GET /Event?user=`).
        let named = match (&query.id, &query.username) {
            (Some(_), None) => self
                .store
                .list_sessions(&filter, self.clock.now())
                .await?
                .into_iter()
                .next(),
            _ => None,
        };
        let revoked = self
            .store
            .revoke_sessions(&filter, self.clock.now())
            .await?;
        if query.id.is_some() && revoked.is_empty() {
            return Err(Error::NotFound("no such live session".into()));
        }
        let subject = EventSubject {
            client_id: query
                .client_id
                .as_deref()
                .or(named.as_ref().map(|s| s.client_id.as_str())),
            user: query
                .username
                .as_deref()
                .or(named.as_ref().map(|s| s.username.as_str())),
        };
        self.sessions_ended(ctx, subject, &revoked, "admin").await;
        Ok(revoked)
    }

    /// `DELETE /User/{id}/sessions[/{sid}]`: `{"revoked": [ids]}`.
    pub async fn delete_sessions(
        &self,
        ctx: &RequestContext,
        query: &SessionQuery,
    ) -> Result<Value, Error> {
        let revoked = self.revoke_sessions(ctx, query).await?;
        Ok(json!({ "revoked": revoked }))
    }

    /// Records that `sessions` ended for `reason`, as one `session_revoked` event (none when
    /// no session ended).
    pub(super) async fn sessions_ended(
        &self,
        ctx: &RequestContext,
        subject: EventSubject<'_>,
        sessions: &[String],
        reason: &str,
    ) {
        if !sessions.is_empty() {
            let detail = json!({ "sessions": sessions });
            self.session_event(ctx, subject, detail, reason).await;
        }
    }

    /// Records that `count` sessions were removed with their client or user, as one
    /// `session_revoked` event counting them (none when there were none).
    pub(super) async fn sessions_removed(
        &self,
        ctx: &RequestContext,
        subject: EventSubject<'_>,
        count: u64,
        reason: &str,
    ) {
        if count > 0 {
            let detail = json!({ "count": count });
            self.session_event(ctx, subject, detail, reason).await;
        }
    }

    /// Records a `session_revoked` event: `detail` (which sessions) with `reason` and `via`.
    async fn session_event(
        &self,
        ctx: &RequestContext,
        subject: EventSubject<'_>,
        mut detail: Value,
        reason: &str,
    ) {
        detail["reason"] = json!(reason);
        detail["via"] = json!(self.via.as_str());
        self.audit
            .record(EventKind::SessionRevoked, ctx, subject, detail)
            .await;
    }

    /// Ends every session of the user `user_id` (`username`) but `keep`, for `reason`.
    pub(super) async fn end_sessions(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        username: &str,
        keep: Option<&str>,
        reason: &str,
    ) -> Result<(), Error> {
        let ended = self
            .store
            .end_user_sessions(user_id, keep, self.clock.now())
            .await?;
        self.sessions_ended(ctx, EventSubject::user(username), &ended, reason)
            .await;
        Ok(())
    }

    /// After a password change of `user_id`: ends their sessions as the server is configured
    /// to, keeping `keep` under `all-but-current`.
    pub(crate) async fn password_changed(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        username: &str,
        keep: Option<&str>,
    ) -> Result<(), Error> {
        let keep = match self.password_change_sessions {
            PasswordChangeSessions::None => return Ok(()),
            PasswordChangeSessions::All => None,
            PasswordChangeSessions::AllButCurrent => keep,
        };
        self.end_sessions(ctx, user_id, username, keep, "password_change")
            .await
    }

    async fn session_filter(&self, query: &SessionQuery) -> Result<SessionFilter, Error> {
        let user_id = match &query.username {
            Some(name) => Some(self.find_user(name).await?.id),
            None => None,
        };
        let client_id = match &query.client_id {
            Some(id) => Some(self.find_client(id).await?.id.to_string()),
            None => None,
        };
        Ok(SessionFilter {
            user_id,
            client_id,
            id: query.id.clone(),
        })
    }
}

/// A session as the admin API and the CLI show it.
pub fn render(s: &Session) -> Value {
    json!({
        "resourceType": "Session",
        "id": s.id,
        "client": s.client_id,
        "user": s.username,
        "sub": s.user_id,
        "created_at": s.created_at,
        "last_used_at": s.last_used_at,
        "expires_at": s.expires_at,
        "scope": s.scope,
        "amr": s.amr,
        "ip": s.ip,
        "user_agent": s.user_agent,
    })
}
