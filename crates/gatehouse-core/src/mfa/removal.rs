//! Removing a second factor, wherever it is asked for: the admin API and `user mfa remove`
//! ([`crate::admin::AdminService::remove_factor`]) and the user's own
//! `DELETE /mfa/authenticators/{id}` ([`crate::mfa::api::Mfa::delete_authenticator`]). The TOTP
//! factor takes the recovery code with it, the sessions opened with what went end, and each
//! removal is recorded (`mfa_removal`, and one `session_revoked` for the sessions).

use serde_json::json;

use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::error::Error;
use crate::mfa::{remove_factor, Authenticator};
use crate::store::Store;
use crate::user::User;

/// Who removes a factor, and where events about it go.
pub(crate) struct Remover<'a> {
    /// The store holding factors and sessions.
    pub(crate) store: &'a dyn Store,
    /// Where the events are recorded.
    pub(crate) audit: &'a AuditLog,
    /// The request's context.
    pub(crate) ctx: &'a RequestContext,
    /// Whom the events are about.
    pub(crate) subject: EventSubject<'a>,
    /// Recorded as `detail.by` (`mfa_removal`) and `detail.via` (`session_revoked`):
    /// `admin_api`, `cli` or `mfa_api`.
    pub(crate) via: &'a str,
}

impl Remover<'_> {
    /// Removes `user`'s factor `id` (and the recovery code with the TOTP factor), then ends the
    /// sessions opened with what went; returns what went, nothing when the user has no factor
    /// `id`.
    pub(crate) async fn remove(
        &self,
        user: &User,
        id: &str,
        now: i64,
    ) -> Result<Vec<Authenticator>, Error> {
        let removed = remove_factor(self.store, &user.id, id).await?;
        // The sessions opened with a removed factor end with it.
        let ids: Vec<String> = removed.iter().map(|f| f.id.clone()).collect();
        let ended = self
            .store
            .revoke_sessions_by_authenticator(&user.id, &ids, now)
            .await?;
        if !ended.is_empty() {
            let detail = json!({ "sessions": ended, "reason": "factor_removed", "via": self.via });
            self.audit
                .record(EventKind::SessionRevoked, self.ctx, self.subject, detail)
                .await;
        }
        for factor in &removed {
            let detail = json!({
                "authenticator_id": factor.id,
                "authenticator_type": factor.kind.as_str(),
                "by": self.via,
            });
            self.audit
                .record(EventKind::MfaRemoval, self.ctx, self.subject, detail)
                .await;
        }
        Ok(removed)
    }
}
