//! The admin API's logic (Aidbox-compatible `Client` and `User` resources): create, replace,
//! read, list and delete, behind a bearer admin token compared in constant time. Bodies arrive
//! as JSON values (the HTTP layer reads JSON or YAML); invalid ones are `InvalidBody` naming
//! the field. Changes are written straight to the store, so the next request sees them.

mod client;
mod fields;
pub mod mfa;
mod user;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::audit::{AuditLog, EventKind, RequestContext};
use crate::client::{Client, ClientId, TokenEndpointAuthMethod};
use crate::client_assertion::SecretSealer;
use crate::clock::Clock;
use crate::error::Error;
use crate::login_guard::{user_key, LoginGuard};
use crate::password::PasswordHasher;
use crate::random;
use crate::store::{Store, StoreError};
use crate::user::{User, Username};
use fields::Change;

/// `detail.via` of the events of admin API changes; the CLI's say `"cli"` (and have no address
/// or request id).
const VIA: &str = "admin_api";

/// Runs admin API requests.
pub struct AdminService {
    store: Arc<dyn Store>,
    hasher: Arc<PasswordHasher>,
    clock: Arc<dyn Clock>,
    token_digest: [u8; 32],
    sealer: Option<Arc<dyn SecretSealer>>,
    guard: Arc<LoginGuard>,
    audit: Arc<AuditLog>,
}

impl AdminService {
    /// An admin API guarded by `token`.
    pub fn new(
        store: Arc<dyn Store>,
        hasher: Arc<PasswordHasher>,
        clock: Arc<dyn Clock>,
        token: &SecretString,
    ) -> Self {
        let audit = Arc::new(AuditLog::new(store.clone(), clock.clone()));
        AdminService {
            guard: Arc::new(LoginGuard::new(store.clone(), clock.clone(), audit.clone())),
            audit,
            store,
            hasher,
            clock,
            token_digest: Sha256::digest(token.expose_secret().as_bytes()).into(),
            sealer: None,
        }
    }

    /// Seals the secrets of `client_secret_jwt` clients with `sealer`.
    pub fn with_sealer(mut self, sealer: Arc<dyn SecretSealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// Unlocks accounts `guard` locked.
    pub fn with_guard(mut self, guard: Arc<LoginGuard>) -> Self {
        self.guard = guard;
        self
    }

    /// Records changes in `audit`.
    pub fn with_audit(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = audit;
        self
    }

    /// Forgets a user's failed logins and lifts any lockout; `{"username", "unlocked"}` says
    /// whether there was anything to forget.
    pub async fn unlock_user(&self, ctx: &RequestContext, username: &str) -> Result<Value, Error> {
        let user = self.find_user(username).await?;
        let unlocked = self.guard.unlock(&user_key(&user.id)).await?;
        let name = user.username.as_str();
        self.audit
            .record(
                EventKind::Unlock,
                ctx,
                None,
                Some(name),
                json!({ "had_failures": unlocked, "via": VIA }),
            )
            .await;
        Ok(json!({ "username": name, "unlocked": unlocked }))
    }

    /// `GET /Event`: audit events, newest first, as a Bundle.
    pub async fn events(&self, filter: &crate::audit::EventFilter) -> Result<Value, Error> {
        let events = self.audit.list(filter).await?;
        let resources = events
            .into_iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).map_err(Error::internal)?;
                v["resourceType"] = json!("Event");
                Ok(v)
            })
            .collect::<Result<Vec<Value>, Error>>()?;
        Ok(bundle(resources))
    }

    /// Records an admin change; secrets never reach `detail`.
    async fn changed(
        &self,
        ctx: &RequestContext,
        action: &str,
        client_id: Option<&str>,
        user: Option<&str>,
    ) {
        self.audit
            .record(
                EventKind::AdminChange,
                ctx,
                client_id,
                user,
                json!({ "action": action, "via": VIA }),
            )
            .await;
    }

    /// Whether `presented` is the admin token. Both sides are hashed first, so the comparison
    /// takes the same time whatever the length or content of the guess.
    pub fn is_authorized(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(digest.ct_eq(&self.token_digest))
    }

    /// `PUT /Client/{id}`: creates or replaces; `true` when created.
    pub async fn put_client(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
    ) -> Result<(Value, bool), Error> {
        let parsed = client::parse(body)?;
        let id = client::resolve_id(Some(id), parsed.id.as_deref())?;
        let existing = self.store.find_client(&id).await?;
        let created = existing.is_none();
        let client = self.build_client(id, parsed, existing).await?;
        if created {
            self.store.insert_client(&client, self.clock.now()).await?;
        } else {
            self.store.update_client(&client).await?;
        }
        let action = if created {
            "create_client"
        } else {
            "update_client"
        };
        self.changed(ctx, action, Some(client.id.as_str()), None)
            .await;
        Ok((client::render(&client), created))
    }

    /// `POST /Client`: creates the client named by the body's `id`; `Conflict` if it exists.
    pub async fn create_client(&self, ctx: &RequestContext, body: &Value) -> Result<Value, Error> {
        let parsed = client::parse(body)?;
        let id = client::resolve_id(None, parsed.id.as_deref())?;
        let client = self.build_client(id, parsed, None).await?;
        self.store
            .insert_client(&client, self.clock.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict => Error::Conflict("a client with this id exists".into()),
                other => other.into(),
            })?;
        self.changed(ctx, "create_client", Some(client.id.as_str()), None)
            .await;
        Ok(client::render(&client))
    }

    /// `GET /Client/{id}`.
    pub async fn client(&self, id: &str) -> Result<Value, Error> {
        let client = self.find_client(id).await?;
        Ok(client::render(&client))
    }

    /// `GET /Client`: every client, as an Aidbox-style search Bundle.
    pub async fn clients(&self) -> Result<Value, Error> {
        let all = self.store.list_clients().await?;
        Ok(bundle(all.iter().map(client::render).collect()))
    }

    /// `DELETE /Client/{id}`: the resource as it was.
    pub async fn delete_client(&self, ctx: &RequestContext, id: &str) -> Result<Value, Error> {
        let client = self.find_client(id).await?;
        self.store.delete_client(&client.id).await?;
        self.changed(ctx, "delete_client", Some(client.id.as_str()), None)
            .await;
        Ok(client::render(&client))
    }

    /// `PUT /User/{username}`: creates or replaces; `true` when created.
    pub async fn put_user(
        &self,
        ctx: &RequestContext,
        username: &str,
        body: &Value,
    ) -> Result<(Value, bool), Error> {
        let name = Username::parse(username)
            .map_err(|e| Error::invalid_field("id", e.description().unwrap_or("invalid")))?;
        let parsed = user::parse(&name, body)?;
        let now = self.clock.now();
        let existing = self.store.find_user(&name).await?;
        let password_hash = match (&parsed.password, &existing) {
            (Some(p), _) => self.hasher.hash(p).await?,
            (None, Some(u)) => u.password_hash.clone(),
            (None, None) => {
                return Err(Error::invalid_field(
                    "password",
                    "is required for a new user",
                ))
            }
        };
        let created = existing.is_none();
        let base = existing.unwrap_or(User {
            id: random::id(),
            username: name,
            password_hash: String::new(),
            email: None,
            phone: None,
            scopes: None,
            created_at: now,
        });
        let updated = User {
            password_hash,
            email: user::apply(base.email.clone(), parsed.email),
            phone: user::apply(base.phone.clone(), parsed.phone),
            scopes: user::apply(base.scopes.clone(), parsed.scopes),
            ..base
        };
        if created {
            self.store.insert_user(&updated).await?;
        } else {
            self.store.update_user(&updated, now).await?;
        }
        let action = if created {
            "create_user"
        } else {
            "update_user"
        };
        self.changed(ctx, action, None, Some(updated.username.as_str()))
            .await;
        Ok((user::render(&updated), created))
    }

    /// `GET /User/{username}`.
    pub async fn user(&self, username: &str) -> Result<Value, Error> {
        Ok(user::render(&self.find_user(username).await?))
    }

    /// `GET /User`: every user, as a search Bundle.
    pub async fn users(&self) -> Result<Value, Error> {
        let all = self.store.list_users().await?;
        Ok(bundle(all.iter().map(user::render).collect()))
    }

    /// `DELETE /User/{username}`: the resource as it was.
    pub async fn delete_user(&self, ctx: &RequestContext, username: &str) -> Result<Value, Error> {
        let user = self.find_user(username).await?;
        self.store.delete_user(&user.username).await?;
        self.changed(ctx, "delete_user", None, Some(user.username.as_str()))
            .await;
        Ok(user::render(&user))
    }

    async fn find_client(&self, id: &str) -> Result<Client, Error> {
        let missing = || Error::NotFound("no such client".into());
        let id = ClientId::parse(id).map_err(|_| missing())?;
        self.store.find_client(&id).await?.ok_or_else(missing)
    }

    async fn find_user(&self, username: &str) -> Result<User, Error> {
        let missing = || Error::NotFound("no such user".into());
        let name = Username::parse(username).map_err(|_| missing())?;
        self.store.find_user(&name).await?.ok_or_else(missing)
    }

    /// The client to store: the new settings, the secret hashed (and sealed for
    /// `client_secret_jwt`), or the stored secret kept when the body leaves it out.
    async fn build_client(
        &self,
        id: ClientId,
        parsed: client::ClientBody,
        existing: Option<Client>,
    ) -> Result<Client, Error> {
        let mut settings = parsed.settings;
        // An HS256 client (`client add --access-token-alg HS256`) keeps its sealed secret and its
        // signing while a PUT leaves the secret alone; a new secret makes it a regular client.
        let keep = matches!(parsed.secret, Change::Keep);
        let hs256_sealed = existing
            .as_ref()
            .and_then(|c| c.secret_sealed.clone())
            .filter(|_| keep);
        if hs256_sealed.is_some() {
            settings.access_token_alg = crate::client::AccessTokenAlg::Hs256;
        }
        let old = existing.map(|c| (c.secret_hash, c.settings.sealed_secret));
        let (secret_hash, sealed) = match parsed.secret {
            Change::Keep => old.unwrap_or((None, None)),
            Change::Remove => (None, None),
            Change::Set(secret) => {
                let secret = SecretString::from(secret);
                let sealed = match &self.sealer {
                    Some(s) => Some(s.seal(&id, &secret)?),
                    None => None,
                };
                (Some(self.hasher.hash(&secret).await?), sealed)
            }
        };
        let method = settings.token_endpoint_auth_method;
        if method == Some(TokenEndpointAuthMethod::ClientSecretJwt) {
            if self.sealer.is_none() {
                return Err(Error::invalid_field(
                    "token_endpoint_auth_method",
                    "client_secret_jwt needs a server key (GATEHOUSE_SECRET_KEY)",
                ));
            }
            if sealed.is_none() {
                return Err(Error::invalid_field(
                    "secret",
                    "client_secret_jwt needs a secret",
                ));
            }
            settings.sealed_secret = sealed;
        }
        if method == Some(TokenEndpointAuthMethod::PrivateKeyJwt) && settings.jwks.is_none() {
            return Err(Error::invalid_field(
                "jwks",
                "private_key_jwt needs a JWK Set",
            ));
        }
        Ok(Client {
            id,
            secret_hash,
            secret_sealed: hs256_sealed,
            settings,
        })
    }
}

fn bundle(resources: Vec<Value>) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| json!({ "resource": r }))
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entries.len(),
        "entry": entries,
    })
}
