//! Which credentials a client presented (RFC 6749 §2.3, RFC 7521 §4.2): HTTP Basic, a secret in
//! the body, a JWT assertion, or a public client's bare `client_id`, and exactly one of them. The
//! HTTP layer gathers what a request carried into [`PresentedCredentials`];
//! [`PresentedCredentials::into_credentials`] applies the rule and names the one method, which
//! [`crate::client_auth`] then checks.

use secrecy::SecretString;

use crate::client_assertion::JWT_BEARER;
use crate::client_auth::ClientCredentials;
use crate::error::{AuthMethod, Error};

/// Everything a request carried that could identify its client, before the one-method rule.
/// Empty parameters are absent (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub struct PresentedCredentials {
    /// `Authorization: Basic`, split and form-decoded (RFC 6749 §2.3.1).
    pub basic: Option<BasicCredentials>,
    /// The `client_id` parameter.
    pub client_id: Option<String>,
    /// The `client_secret` parameter.
    pub client_secret: Option<SecretString>,
    /// The `client_assertion_type` parameter (RFC 7521 §4.2).
    pub client_assertion_type: Option<String>,
    /// The `client_assertion` parameter (RFC 7521 §4.2).
    pub client_assertion: Option<String>,
}

/// The id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1, RFC 7617).
#[derive(Debug)]
pub struct BasicCredentials {
    /// The client id, form-decoded.
    pub id: String,
    /// The secret, form-decoded.
    pub secret: SecretString,
    /// The secret exactly as sent, when form-decoding changed it.
    pub undecoded: Option<SecretString>,
}

impl PresentedCredentials {
    /// The one method the client used. Two methods (Basic and `client_secret`, or an assertion
    /// with either), a body `client_id` that differs from Basic's, a secret or an assertion type
    /// alone are `invalid_request`; nothing at all is `invalid_client`.
    pub fn into_credentials(mut self) -> Result<ClientCredentials, Error> {
        if let Some(assertion) = self.take_assertion()? {
            return Ok(assertion);
        }
        match (self.basic, self.client_id, self.client_secret) {
            (Some(_), _, Some(_)) => Err(Error::invalid_request(
                "the client authenticated twice: use HTTP Basic or client_secret, not both",
            )),
            (Some(b), Some(id), None) if id != b.id => Err(Error::invalid_request(
                "client_id in the body differs from the one in the Authorization header",
            )),
            (Some(b), _, None) => Ok(ClientCredentials::Basic {
                id: b.id,
                secret: b.secret,
                undecoded: b.undecoded,
            }),
            (None, Some(id), Some(secret)) => Ok(ClientCredentials::Post { id, secret }),
            (None, Some(id), None) => Ok(ClientCredentials::Public { id }),
            (None, None, Some(_)) => Err(Error::invalid_request(
                "client_secret was sent without client_id",
            )),
            (None, None, None) => Err(Error::InvalidClient {
                method: AuthMethod::None,
                description: "client authentication is required".into(),
            }),
        }
    }

    /// RFC 7521 §4.2: `client_assertion` with the jwt-bearer `client_assertion_type`, as the
    /// only credentials; `None` when no assertion was sent.
    fn take_assertion(&mut self) -> Result<Option<ClientCredentials>, Error> {
        let kind = self.client_assertion_type.take();
        let Some(assertion) = self.client_assertion.take() else {
            return match kind {
                Some(_) => Err(Error::invalid_request(
                    "client_assertion_type was sent without client_assertion",
                )),
                None => Ok(None),
            };
        };
        if kind.as_deref() != Some(JWT_BEARER) {
            return Err(Error::invalid_request(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        if self.basic.is_some() || self.client_secret.is_some() {
            return Err(Error::invalid_request(
                "the client authenticated twice: use one of HTTP Basic, client_secret and client_assertion",
            ));
        }
        Ok(Some(ClientCredentials::Assertion {
            client_id: self.client_id.take(),
            assertion,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn basic(id: &str) -> Option<BasicCredentials> {
        Some(BasicCredentials {
            id: id.into(),
            secret: SecretString::from("s3cret"),
            undecoded: None,
        })
    }

    fn secret() -> Option<SecretString> {
        Some(SecretString::from("s3cret"))
    }

    /// The rule's error (`ClientCredentials` has no `Debug`, so no `unwrap_err`).
    #[track_caller]
    fn error_of(presented: PresentedCredentials) -> Error {
        match presented.into_credentials() {
            Ok(_) => panic!("the credentials were accepted"),
            Err(err) => err,
        }
    }

    #[track_caller]
    fn refused(presented: PresentedCredentials, code: &str, description: &str) {
        let err = error_of(presented);
        assert_eq!(err.code(), code);
        assert!(
            err.description().unwrap_or("").contains(description),
            "{:?} does not mention {description:?}",
            err.description()
        );
    }

    /// RFC 6749 §2.3.1: Basic, with the same client_id repeated in the body at most.
    #[test]
    fn basic_alone_or_with_its_own_client_id_is_basic() {
        for client_id in [None, Some("app".to_owned())] {
            let presented = PresentedCredentials {
                basic: basic("app"),
                client_id,
                ..Default::default()
            };
            match presented.into_credentials().unwrap() {
                ClientCredentials::Basic { id, secret, .. } => {
                    assert_eq!(id, "app");
                    assert_eq!(secret.expose_secret(), "s3cret");
                }
                _ => panic!("not Basic"),
            }
        }
    }

    /// RFC 6749 §2.3.1: client_id and client_secret in the body; client_id alone is a public
    /// client (§2.1).
    #[test]
    fn body_credentials_are_post_and_a_bare_client_id_is_public() {
        let post = PresentedCredentials {
            client_id: Some("app".into()),
            client_secret: secret(),
            ..Default::default()
        };
        assert!(matches!(
            post.into_credentials().unwrap(),
            ClientCredentials::Post { id, .. } if id == "app"
        ));
        let public = PresentedCredentials {
            client_id: Some("app".into()),
            ..Default::default()
        };
        assert!(matches!(
            public.into_credentials().unwrap(),
            ClientCredentials::Public { id } if id == "app"
        ));
    }

    /// RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    /// request."
    #[test]
    fn two_methods_are_refused() {
        let both = PresentedCredentials {
            basic: basic("app"),
            client_secret: secret(),
            ..Default::default()
        };
        refused(both, "invalid_request", "authenticated twice");
        let assertion_and_basic = PresentedCredentials {
            basic: basic("app"),
            client_assertion_type: Some(JWT_BEARER.into()),
            client_assertion: Some("a.b.c".into()),
            ..Default::default()
        };
        refused(assertion_and_basic, "invalid_request", "client_assertion");
        let assertion_and_secret = PresentedCredentials {
            client_id: Some("app".into()),
            client_secret: secret(),
            client_assertion_type: Some(JWT_BEARER.into()),
            client_assertion: Some("a.b.c".into()),
            ..Default::default()
        };
        refused(assertion_and_secret, "invalid_request", "client_assertion");
    }

    #[test]
    fn inconsistent_or_partial_credentials_are_refused() {
        let other_id = PresentedCredentials {
            basic: basic("app"),
            client_id: Some("other".into()),
            ..Default::default()
        };
        refused(other_id, "invalid_request", "differs");
        let secret_alone = PresentedCredentials {
            client_secret: secret(),
            ..Default::default()
        };
        refused(secret_alone, "invalid_request", "without client_id");
        let type_alone = PresentedCredentials {
            client_assertion_type: Some(JWT_BEARER.into()),
            ..Default::default()
        };
        refused(type_alone, "invalid_request", "without client_assertion");
        let wrong_type = PresentedCredentials {
            client_assertion_type: Some("urn:example".into()),
            client_assertion: Some("a.b.c".into()),
            ..Default::default()
        };
        refused(wrong_type, "invalid_request", "jwt-bearer");
    }

    /// RFC 7521 §4.2: the assertion authenticates the client; client_id may come with it.
    #[test]
    fn a_jwt_bearer_assertion_is_the_assertion_method() {
        let presented = PresentedCredentials {
            client_id: Some("app".into()),
            client_assertion_type: Some(JWT_BEARER.into()),
            client_assertion: Some("a.b.c".into()),
            ..Default::default()
        };
        assert!(matches!(
            presented.into_credentials().unwrap(),
            ClientCredentials::Assertion { client_id: Some(id), assertion }
                if id == "app" && assertion == "a.b.c"
        ));
    }

    #[test]
    fn no_credentials_at_all_are_invalid_client() {
        let err = error_of(PresentedCredentials::default());
        assert_eq!(err.code(), "invalid_client");
    }
}
