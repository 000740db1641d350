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

    const JWT: &str = JWT_BEARER;

    /// Credentials as a request carries them: `("basic", id)` is an `Authorization: Basic`
    /// header with the secret `s3cret`, any other pair a body parameter.
    fn presented(fields: &[(&str, &str)]) -> PresentedCredentials {
        let mut p = PresentedCredentials::default();
        for &(name, value) in fields {
            let value = Some(value.to_owned());
            match name {
                "basic" => {
                    p.basic = value.map(|id| BasicCredentials {
                        id,
                        secret: SecretString::from("s3cret"),
                        undecoded: None,
                    })
                }
                "client_id" => p.client_id = value,
                "client_secret" => p.client_secret = value.map(SecretString::from),
                "client_assertion_type" => p.client_assertion_type = value,
                "client_assertion" => p.client_assertion = value,
                _ => panic!("not a credential: {name}"),
            }
        }
        p
    }

    /// The rule's error (`ClientCredentials` has no `Debug`, so no `unwrap_err`).
    #[track_caller]
    fn error_of(fields: &[(&str, &str)]) -> Error {
        match presented(fields).into_credentials() {
            Ok(_) => panic!("{fields:?} were accepted"),
            Err(err) => err,
        }
    }

    /// RFC 6749 §2.3.1: Basic, with the same client_id repeated in the body at most.
    #[test]
    fn basic_alone_or_with_its_own_client_id_is_basic() {
        for fields in [
            &[("basic", "app")][..],
            &[("basic", "app"), ("client_id", "app")],
        ] {
            match presented(fields).into_credentials().unwrap() {
                ClientCredentials::Basic { id, secret, .. } => {
                    assert_eq!(id, "app");
                    assert_eq!(secret.expose_secret(), "s3cret");
                }
                _ => panic!("{fields:?} is not Basic"),
            }
        }
    }

    /// RFC 6749 §2.3.1: client_id and client_secret in the body; client_id alone is a public
    /// client (§2.1).
    #[test]
    fn body_credentials_are_post_and_a_bare_client_id_is_public() {
        let post = presented(&[("client_id", "app"), ("client_secret", "s")]);
        assert!(matches!(
            post.into_credentials().unwrap(),
            ClientCredentials::Post { id, .. } if id == "app"
        ));
        let public = presented(&[("client_id", "app")]);
        assert!(matches!(
            public.into_credentials().unwrap(),
            ClientCredentials::Public { id } if id == "app"
        ));
    }

    /// RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    /// request"; RFC 7521 §4.2: an assertion comes with its type, which must be jwt-bearer here.
    #[test]
    fn two_methods_and_partial_or_inconsistent_credentials_are_invalid_request() {
        let assertion = [
            ("client_assertion_type", JWT),
            ("client_assertion", "a.b.c"),
        ];
        let cases: [(&[(&str, &str)], &str); 8] = [
            (
                &[("basic", "app"), ("client_secret", "s")],
                "authenticated twice",
            ),
            (
                &[assertion[0], assertion[1], ("basic", "app")],
                "client_assertion",
            ),
            (
                &[
                    assertion[0],
                    assertion[1],
                    ("client_id", "a"),
                    ("client_secret", "s"),
                ],
                "one of",
            ),
            (&[("basic", "app"), ("client_id", "other")], "differs"),
            (&[("client_secret", "s")], "without client_id"),
            (&[assertion[0]], "without client_assertion"),
            (
                &[("client_assertion_type", "urn:x"), assertion[1]],
                "jwt-bearer",
            ),
            (&[("client_assertion", "a.b.c")], "jwt-bearer"),
        ];
        for (fields, description) in cases {
            let err = error_of(fields);
            assert_eq!(err.code(), "invalid_request", "{fields:?}");
            let text = err.description().unwrap_or("");
            assert!(text.contains(description), "{fields:?}: {text}");
        }
    }

    /// RFC 7521 §4.2: the assertion authenticates the client; client_id may come with it.
    #[test]
    fn a_jwt_bearer_assertion_is_the_assertion_method() {
        let fields = [
            ("client_id", "app"),
            ("client_assertion_type", JWT),
            ("client_assertion", "a.b.c"),
        ];
        assert!(matches!(
            presented(&fields).into_credentials().unwrap(),
            ClientCredentials::Assertion { client_id: Some(id), assertion }
                if id == "app" && assertion == "a.b.c"
        ));
    }

    #[test]
    fn no_credentials_at_all_are_invalid_client() {
        assert_eq!(error_of(&[]).code(), "invalid_client");
    }
}
