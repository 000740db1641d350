//! [`ClientRequest`]: a request from a client that authenticates (the token, introspection,
//! revocation and MFA challenge endpoints). It gathers the credentials the client presented
//! (`Authorization: Basic` and the body's credential parameters) for the core's one-method rule
//! ([`gatehouse_core::client_credentials`], RFC 6749 §2.3) and keeps the other parameters.

use axum::extract::{FromRequest, Request};
use gatehouse_core::client_auth::ClientCredentials;
use gatehouse_core::client_credentials::PresentedCredentials;
use gatehouse_core::Error;
use secrecy::SecretString;

use super::{BasicAuth, FormOrJson};
use crate::error::ApiError;
use crate::params::Params;

/// A client's credentials and the other parameters of its form or JSON body. It reads the body,
/// so it is the handler's last extractor; a malformed Basic header or body rejects the request.
pub struct ClientRequest {
    /// The one authentication method the client used, or why it did not use exactly one: a
    /// value rather than a rejection, so that the token endpoint counts these failures too.
    credentials: Result<ClientCredentials, Error>,
    params: Params,
}

impl ClientRequest {
    /// The body's parameters, without the credential ones.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The credentials and the other parameters, or the one-method rule's error. Handlers call
    /// this before reading any parameter, so that error comes first.
    pub fn into_parts(self) -> Result<(ClientCredentials, Params), Error> {
        Ok((self.credentials?, self.params))
    }
}

impl<S: Send + Sync> FromRequest<S> for ClientRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let basic = BasicAuth::from_headers(req.headers())?;
        let FormOrJson(mut params) = FormOrJson::from_request(req, state).await?;
        let presented = PresentedCredentials {
            basic: basic.map(|BasicAuth(basic)| basic),
            client_id: params.take("client_id"),
            client_secret: params.take("client_secret").map(SecretString::from),
            client_assertion_type: params.take("client_assertion_type"),
            client_assertion: params.take("client_assertion"),
        };
        Ok(ClientRequest {
            credentials: presented.into_credentials(),
            params,
        })
    }
}
