//! A user's second factors in the admin API: `GET /User/{id}/authenticators` lists them and
//! `DELETE /User/{id}/authenticators/{authenticator_id}` removes one (the TOTP factor takes
//! the recovery code with it), so a user who lost their device can enrol again.

use serde_json::{json, Value};

use super::{bundle, AdminService};
use crate::audit::{EventKind, RequestContext};
use crate::error::Error;
use crate::mfa::{remove_factor, Authenticator};

impl AdminService {
    /// `GET /User/{username}/authenticators`: a Bundle of the user's factors.
    pub async fn authenticators(&self, username: &str) -> Result<Value, Error> {
        let user = self.find_user(username).await?;
        let all = self.store.mfa_authenticators(&user.id).await?;
        Ok(bundle(all.iter().map(render).collect()))
    }

    /// `DELETE /User/{username}/authenticators/{id}`: the factors removed, as a Bundle.
    pub async fn remove_authenticator(&self, username: &str, id: &str) -> Result<Value, Error> {
        let user = self.find_user(username).await?;
        let removed = remove_factor(self.store.as_ref(), &user.id, id).await?;
        if removed.is_empty() {
            return Err(Error::NotFound("no such authenticator".into()));
        }
        for factor in &removed {
            self.audit
                .record(
                    EventKind::MfaRemoval,
                    &RequestContext::default(),
                    None,
                    Some(user.username.as_str()),
                    json!({
                        "authenticator_id": factor.id,
                        "authenticator_type": factor.kind.as_str(),
                        "by": "admin_api",
                    }),
                )
                .await;
        }
        Ok(bundle(removed.iter().map(render).collect()))
    }
}

/// A factor as the admin API shows it: never its secret or hash.
pub fn render(a: &Authenticator) -> Value {
    json!({
        "resourceType": "Authenticator",
        "id": a.id,
        "authenticator_type": a.kind.as_str(),
        "active": a.active,
        "created_at": a.created_at,
    })
}
