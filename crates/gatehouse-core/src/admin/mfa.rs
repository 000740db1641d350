//! A user's second factors: listed (`GET /User/{id}/authenticators`, `user mfa list`) and
//! removed (`DELETE /User/{id}/authenticators/{authenticator_id}`, `user mfa remove`; the TOTP
//! factor takes the recovery code with it), so a user who lost their device can enrol again.

use serde_json::{json, Value};

use super::{bundle, AdminService};
use crate::audit::{EventSubject, RequestContext};
use crate::error::Error;
use crate::mfa::removal::Remover;
use crate::mfa::Authenticator;

impl AdminService {
    /// A user's factors; `NotFound` if there is no such user.
    pub async fn factors(&self, username: &str) -> Result<Vec<Authenticator>, Error> {
        let user = self.find_user(username).await?;
        Ok(self.store.mfa_authenticators(&user.id).await?)
    }

    /// `GET /User/{username}/authenticators`: a Bundle of the user's factors.
    pub async fn authenticators(&self, username: &str) -> Result<Value, Error> {
        let all = self.factors(username).await?;
        Ok(bundle(all.iter().map(render).collect()))
    }

    /// Removes factor `id` of a user (and the recovery code with the TOTP factor); returns
    /// what went, nothing when the user has no such factor.
    pub async fn remove_factor(
        &self,
        ctx: &RequestContext,
        username: &str,
        id: &str,
    ) -> Result<Vec<Authenticator>, Error> {
        let user = self.find_user(username).await?;
        let remover = Remover {
            store: self.store.as_ref(),
            audit: &self.audit,
            ctx,
            subject: EventSubject::user(user.username.as_str()),
            via: self.via.as_str(),
        };
        let removed = remover.remove(&user, id, self.clock.now()).await?;
        Ok(removed)
    }

    /// `DELETE /User/{username}/authenticators/{id}`: the factors removed, as a Bundle.
    pub async fn remove_authenticator(&self, username: &str, id: &str) -> Result<Value, Error> {
        let removed = self
            .remove_factor(&RequestContext::default(), username, id)
            .await?;
        if removed.is_empty() {
            return Err(Error::NotFound("no such authenticator".into()));
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
