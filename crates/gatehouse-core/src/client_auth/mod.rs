//! Client authentication (RFC 6749 §2.3): HTTP Basic, credentials in the body, a JWT assertion
//! (RFC 7523 §2.2, checked by [`crate::client_assertion`]), or a public client's bare
//! `client_id`. A client that has a secret may send `client_id` alone when its
//! `secret_required` setting is off, and one that names a `token_endpoint_auth_method` may use
//! only that method. Secrets are stored as argon2id hashes; a client whose access tokens are
//! signed with HS256 keyed by its secret keeps the secret sealed ([`crate::sealing`]) instead,
//! opened and compared in constant time. Either way a secret that verified once is remembered
//! (`verified.rs`), so a client pays for one check per secret and process, not one per request.
//!
//! Failures count on the per-address throttle of the [`LoginGuard`], never on the client: a
//! secret or assertion that is not known to be right takes an attempt from the address's bucket
//! before it is checked (given back when it was right), and an unknown client id keeps one, so a
//! guesser gets 429 while the client, from its own address, keeps working. A remembered secret
//! is not a guess and takes nothing. Each failure is logged and recorded, aggregated
//! (`failures.rs`).

mod failures;
mod verified;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

pub use failures::{FailureReason, EVENT_WINDOW};

use crate::audit::{AuditLog, RequestContext};
use crate::client::{Client, ClientId, TokenEndpointAuthMethod};
use crate::client_assertion::AssertionVerifier;
use crate::clock::Clock;
use crate::error::{AuthMethod, Error};
use crate::login_guard::{LoginGuard, SourceAttempt};
use crate::password::PasswordHasher;
use crate::sealing::Sealer;
use crate::store::ClientStore;
use failures::FailureLog;
use verified::VerifiedSecrets;

/// The longest client secret accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 512;

/// What a request offered to identify its client.
pub enum ClientCredentials {
    /// `Authorization: Basic`, already split and form-decoded (RFC 6749 §2.3.1).
    Basic {
        /// The client id.
        id: String,
        /// The secret, form-decoded.
        secret: SecretString,
        /// The secret exactly as sent, when it differs from the decoded one: clients that build
        /// the header as `btoa(id + ":" + secret)` skip the form-encoding step.
        undecoded: Option<SecretString>,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        /// The client id.
        id: String,
        /// The secret.
        secret: SecretString,
    },
    /// `client_id` alone: a public client.
    Public {
        /// The client id.
        id: String,
    },
    /// `client_assertion` with `client_assertion_type` jwt-bearer (RFC 7523 §2.2).
    Assertion {
        /// The `client_id` parameter, when sent; it must equal the assertion's `sub`.
        client_id: Option<String>,
        /// The JWT.
        assertion: String,
    },
}

impl ClientCredentials {
    fn method(&self) -> AuthMethod {
        match self {
            ClientCredentials::Basic { .. } => AuthMethod::Basic,
            ClientCredentials::Post { .. } => AuthMethod::Post,
            ClientCredentials::Public { .. } => AuthMethod::None,
            ClientCredentials::Assertion { .. } => AuthMethod::PrivateKeyJwt,
        }
    }
}

/// Authenticates clients against the store.
pub struct ClientAuthenticator {
    store: Arc<dyn ClientStore>,
    hasher: Arc<PasswordHasher>,
    verified: VerifiedSecrets,
    assertions: Option<Arc<AssertionVerifier>>,
    sealer: Option<Arc<Sealer>>,
    guard: Option<Arc<LoginGuard>>,
    failures: Option<FailureLog>,
}

/// A client that authenticated, and the context its request is judged in.
#[derive(Debug)]
pub struct Authenticated {
    /// The client.
    pub client: Client,
    /// The request's context: with the address the client vouches for (`auth0-forwarded-for`)
    /// when this request proved the client with a secret or an assertion and its settings trust
    /// it ([`RequestContext::for_client`]); otherwise the caller's own address.
    pub ctx: RequestContext,
    /// Whether this request proved the client with a secret or an assertion; `false` for a
    /// public client, or a client whose secret is not required, that sent its `client_id` alone.
    pub proven: bool,
}

/// A refusal: why (for the event), and the answer.
struct Refusal {
    reason: FailureReason,
    error: Error,
    /// Whether it counts on the address's throttle.
    counts: bool,
}

impl ClientAuthenticator {
    /// An authenticator over `store`, hashing on `hasher`'s pool.
    pub fn new(store: Arc<dyn ClientStore>, hasher: Arc<PasswordHasher>) -> Self {
        ClientAuthenticator {
            store,
            hasher,
            verified: VerifiedSecrets::default(),
            assertions: None,
            sealer: None,
            guard: None,
            failures: None,
        }
    }

    /// Counts failures on `guard`'s per-address throttle.
    pub fn with_guard(mut self, guard: Arc<LoginGuard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Records failed authentications as `client_auth_failure` events in `audit`, at most one
    /// per address and reason every [`EVENT_WINDOW`] seconds of `clock`.
    pub fn with_audit(mut self, audit: Arc<AuditLog>, clock: Arc<dyn Clock>) -> Self {
        self.failures = Some(FailureLog::new(audit, clock));
        self
    }

    /// Accepts JWT client assertions checked by `verifier`.
    pub fn with_assertions(mut self, verifier: Arc<AssertionVerifier>) -> Self {
        self.assertions = Some(verifier);
        self
    }

    /// Lets the authenticator open sealed client secrets.
    pub fn with_sealer(mut self, sealer: Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// The client the credentials prove, for a request from `ctx`, or `invalid_client`; 429
    /// `TooManyRequests` when a credential would need a check and the address's bucket is full.
    pub async fn authenticate_with(
        &self,
        ctx: &RequestContext,
        creds: ClientCredentials,
    ) -> Result<Authenticated, Error> {
        let method = creds.method();
        let (id, secrets) = match creds {
            ClientCredentials::Basic {
                id,
                secret,
                undecoded,
            } => (id, [Some(secret), undecoded]),
            ClientCredentials::Post { id, secret } => (id, [Some(secret), None]),
            ClientCredentials::Public { id } => (id, [None, None]),
            ClientCredentials::Assertion {
                client_id,
                assertion,
            } => return self.assertion(ctx, client_id, &assertion).await,
        };
        let secrets: Vec<&SecretString> = secrets.iter().flatten().collect();
        let client = match ClientId::parse(&id) {
            Ok(parsed) => self.store.find_client(&parsed).await?,
            Err(_) => None,
        };
        let judged = match client {
            None => Err(refusal(FailureReason::UnknownClient, method, FAILED, true)),
            Some(client) if secrets.is_empty() => without_secret(client, method),
            Some(client) => self.secret(ctx, client, &secrets, method).await?,
        };
        match judged {
            Ok((client, proven)) => Ok(authenticated(ctx, client, proven)),
            Err(refused) => Err(self.refuse(ctx, &id, refused).await),
        }
    }

    /// Checks the secrets a known client presented: `Ok(Ok(client, true))` when one is its
    /// secret, behind the address's throttle.
    async fn secret(
        &self,
        ctx: &RequestContext,
        client: Client,
        secrets: &[&SecretString],
        method: AuthMethod,
    ) -> Result<Result<(Client, bool), Refusal>, Error> {
        if !method_allowed(&client, method) {
            return Ok(Err(refusal(
                FailureReason::MethodNotAllowed,
                method,
                WRONG_METHOD,
                false,
            )));
        }
        let stored: Vec<u8> = match (&client.secret_hash, &client.secret_sealed) {
            (Some(hash), _) => hash.as_bytes().to_vec(),
            (None, Some(sealed)) => sealed.clone(),
            // A public client does not have a secret to send.
            (None, None) => {
                return Ok(Err(refusal(
                    FailureReason::WrongSecret,
                    method,
                    FAILED,
                    true,
                )));
            }
        };
        // A secret that verified before is not a guess: it needs no check, so it takes nothing
        // from the address's bucket (and a throttled address may still use it; its password
        // logins meet the password grant's own throttle).
        if self.verified.knows(client.id.as_str(), &stored, secrets) {
            return Ok(Ok((client, true)));
        }
        let source = self.reserve_source(ctx).await?;
        let right = match self.right_secret(&client, secrets).await {
            Ok(right) => right,
            // Failed before judging the secret: not a failure of the address.
            Err(err) => {
                self.refund_source(source).await;
                return Err(err);
            }
        };
        let Some(right) = right else {
            // Kept: the failure counts on the address.
            drop(source);
            return Ok(Err(refusal(
                FailureReason::WrongSecret,
                method,
                FAILED,
                false,
            )));
        };
        self.refund_source(source).await;
        self.verified.remember(client.id.as_str(), &stored, right);
        Ok(Ok((client, true)))
    }

    /// The one of `secrets` that is `client`'s secret, if any: checked against the argon2id
    /// hash, or compared in constant time with the opened sealed secret.
    async fn right_secret<'s>(
        &self,
        client: &Client,
        secrets: &[&'s SecretString],
    ) -> Result<Option<&'s SecretString>, Error> {
        let usable = secrets
            .iter()
            .copied()
            .filter(|s| s.expose_secret().len() <= MAX_SECRET_LEN);
        if let Some(hash) = &client.secret_hash {
            for secret in usable {
                if self
                    .hasher
                    .verify(secret.expose_secret().as_bytes(), Some(hash))
                    .await?
                {
                    return Ok(Some(secret));
                }
            }
            return Ok(None);
        }
        let (Some(sealed), Some(sealer)) = (&client.secret_sealed, &self.sealer) else {
            return Err(Error::internal(
                "no server key to open a sealed client secret",
            ));
        };
        let expected = sealer.open(&client.secret_seal_context(), sealed)?;
        Ok(usable
            .into_iter()
            .find(|s| bool::from(s.expose_secret().as_bytes().ct_eq(&expected[..]))))
    }

    /// Checks a JWT client assertion (RFC 7523 §2.2) behind the address's throttle.
    async fn assertion(
        &self,
        ctx: &RequestContext,
        client_id: Option<String>,
        assertion: &str,
    ) -> Result<Authenticated, Error> {
        let sent_id = client_id.clone().unwrap_or_default();
        let Some(verifier) = &self.assertions else {
            let refused = refusal(
                FailureReason::AssertionsOff,
                AuthMethod::PrivateKeyJwt,
                "client assertions are not accepted",
                false,
            );
            return Err(self.refuse(ctx, &sent_id, refused).await);
        };
        let source = self.reserve_source(ctx).await?;
        match verifier.authenticate(client_id.as_deref(), assertion).await {
            Ok(Ok(client)) => {
                self.refund_source(source).await;
                Ok(authenticated(ctx, client, true))
            }
            Ok(Err(refused)) => {
                // Kept: the failure counts on the address.
                drop(source);
                let id = refused.subject.as_deref().unwrap_or(&sent_id).to_owned();
                let refused = Refusal {
                    reason: FailureReason::Assertion(refused.failure),
                    error: refused.error,
                    counts: false,
                };
                Err(self.refuse(ctx, &id, refused).await)
            }
            Err(err) => {
                self.refund_source(source).await;
                Err(err)
            }
        }
    }

    /// Records a refusal of the client `id` (as sent) and returns its answer: 429 instead when
    /// it counts on an address whose bucket is full (then nothing is recorded).
    async fn refuse(&self, ctx: &RequestContext, id: &str, refused: Refusal) -> Error {
        if refused.counts {
            // Nothing costly was guarded: the count is taken after the cheap check, and kept.
            if let Err(err) = self.reserve_source(ctx).await {
                return err;
            }
        }
        if let Some(failures) = &self.failures {
            failures.record(ctx, id, refused.reason).await;
        }
        refused.error
    }

    async fn reserve_source(&self, ctx: &RequestContext) -> Result<Option<SourceAttempt>, Error> {
        match &self.guard {
            Some(guard) => guard.reserve_source(ctx.ip).await.map(Some),
            None => Ok(None),
        }
    }

    async fn refund_source(&self, source: Option<SourceAttempt>) {
        if let (Some(guard), Some(source)) = (&self.guard, source) {
            guard.refund_source(source).await;
        }
    }
}

/// The description of a failed check, the same for an unknown client and a wrong secret.
const FAILED: &str = "client authentication failed";
const WRONG_METHOD: &str =
    "this client must authenticate with its registered token_endpoint_auth_method";
const REQUIRED: &str = "client authentication is required for this client";

/// A request that sent a known client's id alone: a public client, or one whose secret is not
/// required (neither is proven).
fn without_secret(client: Client, method: AuthMethod) -> Result<(Client, bool), Refusal> {
    let required = |reason| Err(refusal(reason, method, REQUIRED, false));
    if !method_allowed(&client, method) {
        return Err(refusal(
            FailureReason::MethodNotAllowed,
            method,
            WRONG_METHOD,
            false,
        ));
    }
    // A client with registered keys is confidential: it proves itself with an assertion.
    if client.is_public() && client.settings.jwks.is_some() {
        return required(FailureReason::SecretRequired);
    }
    if !client.is_public() && client.settings.secret_required {
        return required(FailureReason::SecretRequired);
    }
    Ok((client, false))
}

fn refusal(
    reason: FailureReason,
    method: AuthMethod,
    description: &'static str,
    counts: bool,
) -> Refusal {
    Refusal {
        reason,
        error: refused(method, description),
        counts,
    }
}

/// `client` authenticated from `ctx`; `proven` when by a secret or an assertion, which alone
/// lets it vouch for its end user's address.
fn authenticated(ctx: &RequestContext, client: Client, proven: bool) -> Authenticated {
    let ctx = if proven {
        ctx.for_client(&client)
    } else {
        RequestContext {
            forwarded_for: None,
            ..ctx.clone()
        }
    };
    Authenticated {
        client,
        ctx,
        proven,
    }
}

/// The `invalid_client` answer to a client that tried `method`.
fn refused(method: AuthMethod, description: &'static str) -> Error {
    Error::InvalidClient {
        method,
        description: description.into(),
    }
}

/// Whether a client restricted to one `token_endpoint_auth_method` may use `method`.
fn method_allowed(client: &Client, method: AuthMethod) -> bool {
    use TokenEndpointAuthMethod as M;
    match client.settings.token_endpoint_auth_method {
        None => true,
        Some(required) => matches!(
            (required, method),
            (M::ClientSecretBasic, AuthMethod::Basic)
                | (M::ClientSecretPost, AuthMethod::Post)
                | (M::None, AuthMethod::None)
        ),
    }
}
