//! The Client Credentials grant (RFC 6749 §4.4): a confidential client asks for an access token
//! for itself (machine to machine). The request must have proved the client with a secret or an
//! assertion (§4.4.2, §3.2.1): a public client, or a client that sent its `client_id` alone
//! (`secret_required` off), is `unauthorized_client`, as is a client not allowed the grant. The
//! token's `sub` is the client id; no refresh token (§4.4.3) and no id_token are issued.

use serde_json::json;

use super::password::resolve_scope;
use super::{Grants, Tokens};
use crate::audit::{EventKind, EventSubject, RequestContext};
use crate::client::{Client, GrantType};
use crate::error::Error;
use crate::scope::ScopeSet;

impl Grants {
    /// Issues a client token to `client`, which `proven` says the request proved with a secret
    /// or an assertion, with the `requested` scope (the client's defaults when none), and
    /// records its `token_issued` event.
    pub(super) async fn client_credentials(
        &self,
        ctx: &RequestContext,
        client: &Client,
        requested: Option<ScopeSet>,
        proven: bool,
    ) -> Result<Tokens, Error> {
        if !client.allows_grant(GrantType::ClientCredentials) {
            return Err(Error::UnauthorizedClient(
                "this client may not use the client_credentials grant".into(),
            ));
        }
        // RFC 6749 §4.4: only confidential clients, authenticated (§2.1, §3.2.1). The client is
        // known and passed the checks its registration asks for, so this is no failed
        // authentication (invalid_client) but a grant the client is not authorized to use.
        if !proven {
            return Err(Error::UnauthorizedClient(
                "the client_credentials grant needs a confidential client that authenticates \
                 with a secret or an assertion"
                    .into(),
            ));
        }
        let scope = resolve_scope(client, requested)?;
        let tokens = self.issuer.issue_client_token(client, scope).await?;
        let detail = json!({
            "grant_type": GrantType::ClientCredentials.as_str(),
            "scope": tokens.scope.to_string(),
        });
        self.audit
            .record(
                EventKind::TokenIssued,
                ctx,
                EventSubject::client(client.id.as_str()),
                detail,
            )
            .await;
        Ok(tokens)
    }
}
