//! Client authentication (RFC 6749 §2.3): HTTP Basic, credentials in the body, a JWT assertion
//! (RFC 7523 §2.2, checked by [`crate::client_assertion`]), or a public client's bare
//! `client_id`. A client that has a secret may send `client_id` alone when its
//! `secret_required` setting is off, and one that names a `token_endpoint_auth_method` may use
//! only that method. Secrets are stored as argon2id hashes; a secret that verified once
//! is remembered in memory by its SHA-256, so a confidential client pays for one argon2 hash per
//! secret and process, not one per request. A client whose access tokens are signed with HS256
//! keyed by its secret keeps the secret sealed ([`crate::sealing`]) instead; it is opened and
//! compared in constant time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::client::{Client, ClientId, TokenEndpointAuthMethod};
use crate::client_assertion::AssertionVerifier;
use crate::error::{AuthMethod, Error};
use crate::login_guard::{client_key, Admission, Attempt, LoginGuard};
use crate::password::PasswordHasher;
use crate::sealing::Sealer;
use crate::store::ClientStore;

/// The longest client secret accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 512;
/// How many verified secrets are remembered before the memory is cleared.
const VERIFIED_CAPACITY: usize = 10_000;

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
    verified: Mutex<HashMap<String, Verified>>,
    assertions: Option<Arc<AssertionVerifier>>,
    sealer: Option<Arc<Sealer>>,
    guard: Option<Arc<LoginGuard>>,
    audit: Option<Arc<AuditLog>>,
}

struct Verified {
    stored_hash: String,
    secret_digest: [u8; 32],
}

impl ClientAuthenticator {
    /// An authenticator over `store`, hashing on `hasher`'s pool.
    pub fn new(store: Arc<dyn ClientStore>, hasher: Arc<PasswordHasher>) -> Self {
        ClientAuthenticator {
            store,
            hasher,
            verified: Mutex::new(HashMap::new()),
            assertions: None,
            sealer: None,
            guard: None,
            audit: None,
        }
    }

    /// Counts failed secrets per client with `guard`'s lockout.
    pub fn with_guard(mut self, guard: Arc<LoginGuard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Records failed authentications as events in `audit`.
    pub fn with_audit(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = Some(audit);
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

    /// Returns the client the credentials prove, or `invalid_client`, for a request from `ctx`.
    /// A client whose secret failed too often is locked like an account ([`crate::lockout`]): it
    /// gets the same `invalid_client` as a wrong secret, after the same hash work, without its
    /// secret being checked.
    pub async fn authenticate_with(
        &self,
        ctx: &RequestContext,
        creds: ClientCredentials,
    ) -> Result<Client, Error> {
        let method = creds.method();
        let failed = |description: &'static str| refused(method, description);
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
            } => {
                return match &self.assertions {
                    Some(verifier) => {
                        verifier
                            .authenticate(client_id.as_deref(), &assertion)
                            .await
                    }
                    None => Err(failed("client assertions are not accepted")),
                };
            }
        };
        let id = ClientId::parse(&id).map_err(|_| failed("client authentication failed"))?;
        let client = self
            .store
            .find_client(&id)
            .await?
            .ok_or_else(|| failed("client authentication failed"))?;
        if !method_allowed(&client, method) {
            return Err(failed(
                "this client must authenticate with its registered token_endpoint_auth_method",
            ));
        }
        if client.secret_sealed.is_some() {
            return self
                .check_sealed_secret(ctx, client, &secrets, method)
                .await;
        }
        match (&client.secret_hash, &secrets[0]) {
            // A client with registered keys is confidential: it proves itself with an assertion.
            (None, None) if client.settings.jwks.is_some() => {
                Err(failed("client authentication is required for this client"))
            }
            (None, None) => Ok(client),
            (Some(_), None) if !client.settings.secret_required => Ok(client),
            (None, Some(_)) => Err(failed("client authentication failed")),
            (Some(_), None) => Err(failed("client authentication is required for this client")),
            (Some(hash), Some(first)) => {
                let known = secrets.iter().flatten().any(|s| {
                    let digest: [u8; 32] = Sha256::digest(s.expose_secret().as_bytes()).into();
                    self.lookup(client.id.as_str(), hash, &digest).is_some()
                });
                if known {
                    return Ok(client);
                }
                let Some(attempt) = self.reserve(ctx, &client, Some(first)).await? else {
                    return Err(failed("client authentication failed"));
                };
                let mut matches = false;
                for secret in secrets.iter().flatten() {
                    if self.secret_matches(&client.id, hash, secret).await? {
                        matches = true;
                        break;
                    }
                }
                self.settle(ctx, client, attempt, matches)
                    .await?
                    .ok_or_else(|| failed("client authentication failed"))
            }
        }
    }

    /// Checks the secrets a client whose secret is sealed (an HS256 client) presented: the
    /// secret is opened and compared in constant time, behind the client's lockout.
    async fn check_sealed_secret(
        &self,
        ctx: &RequestContext,
        client: Client,
        secrets: &[Option<SecretString>; 2],
        method: AuthMethod,
    ) -> Result<Client, Error> {
        let failed = |description: &'static str| refused(method, description);
        let Some(sealed) = client.secret_sealed.as_deref() else {
            return Err(Error::internal("the client has no sealed secret"));
        };
        if secrets[0].is_none() {
            return if client.settings.secret_required {
                Err(failed("client authentication is required for this client"))
            } else {
                Ok(client)
            };
        }
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| Error::internal("no server key to open a sealed client secret"))?;
        let Some(attempt) = self.reserve(ctx, &client, None).await? else {
            return Err(failed("client authentication failed"));
        };
        let expected = sealer.open(&client.secret_seal_context(), sealed)?;
        let matches = secrets.iter().flatten().any(|s| {
            let s = s.expose_secret().as_bytes();
            s.len() <= MAX_SECRET_LEN && bool::from(s.ct_eq(&expected[..]))
        });
        self.settle(ctx, client, attempt, matches)
            .await?
            .ok_or_else(|| failed("client authentication failed"))
    }

    /// Counts an attempt on the client's secret; `None` when the client is locked, after the
    /// same hash work as a real check (`dummy`: the secret to hash) and an event.
    async fn reserve(
        &self,
        ctx: &RequestContext,
        client: &Client,
        dummy: Option<&SecretString>,
    ) -> Result<Option<Option<Attempt>>, Error> {
        let Some(guard) = &self.guard else {
            return Ok(Some(None));
        };
        match guard.reserve(&client_key(client.id.as_str())).await? {
            Admission::Proceed(attempt) => Ok(Some(Some(attempt))),
            Admission::Locked { .. } => {
                if let Some(secret) = dummy {
                    let secret = secret.expose_secret().as_bytes();
                    let secret = &secret[..secret.len().min(MAX_SECRET_LEN)];
                    self.hasher.verify(secret, None).await?;
                }
                self.client_failed(ctx, client, "locked").await;
                Ok(None)
            }
        }
    }

    /// Ends a counted attempt: the client on success, `None` (and events) on failure.
    async fn settle(
        &self,
        ctx: &RequestContext,
        client: Client,
        attempt: Option<Attempt>,
        matches: bool,
    ) -> Result<Option<Client>, Error> {
        let Some(guard) = &self.guard else {
            return Ok(matches.then_some(client));
        };
        let Some(attempt) = attempt else {
            return Ok(matches.then_some(client));
        };
        if matches {
            guard.succeeded(attempt).await?;
            return Ok(Some(client));
        }
        self.client_failed(ctx, &client, "bad_client").await;
        guard
            .failed(attempt, ctx, EventSubject::client(client.id.as_str()))
            .await;
        Ok(None)
    }

    async fn client_failed(&self, ctx: &RequestContext, client: &Client, reason: &str) {
        if let Some(audit) = &self.audit {
            let detail = serde_json::json!({ "reason": reason });
            let about = EventSubject::client(client.id.as_str());
            audit
                .record(EventKind::LoginFailure, ctx, about, detail)
                .await;
        }
    }

    async fn secret_matches(
        &self,
        id: &ClientId,
        stored_hash: &str,
        secret: &SecretString,
    ) -> Result<bool, Error> {
        let secret = secret.expose_secret().as_bytes();
        if secret.len() > MAX_SECRET_LEN {
            return Ok(false);
        }
        let digest: [u8; 32] = Sha256::digest(secret).into();
        if let Some(hit) = self.lookup(id.as_str(), stored_hash, &digest) {
            return Ok(hit);
        }
        let ok = self.hasher.verify(secret, Some(stored_hash)).await?;
        if ok {
            let mut verified = self
                .verified
                .lock()
                .map_err(|_| Error::internal("poisoned"))?;
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(
                id.as_str().to_owned(),
                Verified {
                    stored_hash: stored_hash.to_owned(),
                    secret_digest: digest,
                },
            );
        }
        Ok(ok)
    }

    /// `Some(true)` when this exact secret verified against this exact stored hash before.
    /// A changed secret (a different stored hash) never matches an old entry.
    fn lookup(&self, id: &str, stored_hash: &str, digest: &[u8; 32]) -> Option<bool> {
        let verified = self.verified.lock().ok()?;
        let entry = verified.get(id)?;
        let same =
            entry.stored_hash == stored_hash && bool::from(entry.secret_digest.ct_eq(digest));
        same.then_some(true)
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
