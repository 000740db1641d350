//! Client operations of [`AdminService`]: register (the CLI's `client add`, the API's POST),
//! create-or-replace (PUT), change some settings (`client update`), read, list and remove. The
//! secret is hashed with argon2id, and also sealed under the server key when it must stay
//! readable: for `client_secret_jwt` (RFC 7523 §2.2) next to the hash, for HS256-signing
//! clients instead of it. A client that names a signing algorithm (`id_token_signed_response_alg`,
//! `access_token_alg`) the key ring has no current key of gets one before it is stored, so the
//! JWKS publishes the key before the client's first token.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::fields::Change;
use super::keys::SigningKeys;
use super::{bundle, client, AdminService};
use crate::audit::RequestContext;
use crate::client::{AccessTokenAlg, Client, ClientId, ClientSettings, TokenEndpointAuthMethod};
use crate::client_assertion::SecretSealer;
use crate::error::Error;
use crate::store::StoreError;

/// A client to register.
pub struct NewClient {
    /// Its id.
    pub id: ClientId,
    /// Its secret; `None` for a public client.
    pub secret: Option<SecretString>,
    /// Everything else; validated on registration.
    pub settings: ClientSettings,
}

impl AdminService {
    /// Registers a new client; `Conflict` if the id is taken.
    pub async fn add_client(&self, ctx: &RequestContext, new: NewClient) -> Result<Client, Error> {
        new.settings.validate()?;
        let secret = match new.secret {
            Some(secret) => Change::Set(secret),
            None => Change::Keep,
        };
        let client = self
            .build_client(new.id, secret, new.settings, None, true)
            .await?;
        self.ensure_signing_keys(&client.settings).await?;
        self.insert_client(ctx, &client).await?;
        Ok(client)
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
        let secret = parsed.secret.map(SecretString::from);
        let named = parsed.names_access_token_alg;
        let client = self
            .build_client(id, secret, parsed.settings, existing, named)
            .await?;
        self.ensure_signing_keys(&client.settings).await?;
        if created {
            self.store.insert_client(&client, self.clock.now()).await?;
            self.changed(ctx, "create_client", Some(client.id.as_str()), None)
                .await;
        } else {
            self.store.update_client(&client).await?;
            self.changed(ctx, "update_client", Some(client.id.as_str()), None)
                .await;
        }
        Ok((client::render(&client), created))
    }

    /// Changes some settings of a client (`client update`), leaving its secret and every other
    /// setting as stored; the changed settings are validated.
    pub async fn update_client(
        &self,
        ctx: &RequestContext,
        id: &str,
        change: impl FnOnce(&mut ClientSettings),
    ) -> Result<Client, Error> {
        let mut client = self.find_client(id).await?;
        let was_hs256 = client.settings.access_token_alg == AccessTokenAlg::Hs256;
        change(&mut client.settings);
        client.settings.validate()?;
        if was_hs256 != (client.settings.access_token_alg == AccessTokenAlg::Hs256) {
            // An HS256 client's secret is sealed instead of hashed: switching needs the secret.
            return Err(Error::invalid_request(
                "switching access_token_alg to or from HS256 needs the secret: replace the \
                 client with PUT /Client/ID and a secret",
            ));
        }
        self.ensure_signing_keys(&client.settings).await?;
        self.store.update_client(&client).await?;
        self.changed(ctx, "update_client", Some(client.id.as_str()), None)
            .await;
        Ok(client)
    }

    /// `POST /Client`: creates the client named by the body's `id`; `Conflict` if it exists.
    pub async fn create_client(&self, ctx: &RequestContext, body: &Value) -> Result<Value, Error> {
        let parsed = client::parse(body)?;
        let id = client::resolve_id(None, parsed.id.as_deref())?;
        let secret = parsed.secret.map(SecretString::from);
        let client = self
            .build_client(id, secret, parsed.settings, None, true)
            .await?;
        self.ensure_signing_keys(&client.settings).await?;
        self.insert_client(ctx, &client).await?;
        Ok(client::render(&client))
    }

    /// One client; `NotFound` if there is none with this id.
    pub async fn find_client(&self, id: &str) -> Result<Client, Error> {
        let missing = || Error::NotFound("no such client".into());
        let id = ClientId::parse(id).map_err(|_| missing())?;
        self.store.find_client(&id).await?.ok_or_else(missing)
    }

    /// `GET /Client/{id}`.
    pub async fn client(&self, id: &str) -> Result<Value, Error> {
        Ok(client::render(&self.find_client(id).await?))
    }

    /// Every client.
    pub async fn list_clients(&self) -> Result<Vec<Client>, Error> {
        Ok(self.store.list_clients().await?)
    }

    /// `GET /Client`: every client, as an Aidbox-style search Bundle.
    pub async fn clients(&self) -> Result<Value, Error> {
        let all = self.list_clients().await?;
        Ok(bundle(all.iter().map(client::render).collect()))
    }

    /// Removes a client; returns it as it was.
    pub async fn remove_client(&self, ctx: &RequestContext, id: &str) -> Result<Client, Error> {
        let client = self.find_client(id).await?;
        let sessions = self.store.delete_client(&client.id).await?;
        self.changed(ctx, "delete_client", Some(client.id.as_str()), None)
            .await;
        let subject = crate::audit::EventSubject::client(client.id.as_str());
        self.sessions_removed(ctx, subject, sessions, "client_deleted")
            .await;
        Ok(client)
    }

    /// `DELETE /Client/{id}`: the resource as it was.
    pub async fn delete_client(&self, ctx: &RequestContext, id: &str) -> Result<Value, Error> {
        Ok(client::render(&self.remove_client(ctx, id).await?))
    }

    async fn insert_client(&self, ctx: &RequestContext, client: &Client) -> Result<(), Error> {
        self.store
            .insert_client(client, self.clock.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict => Error::Conflict("a client with this id exists".into()),
                other => other.into(),
            })?;
        self.changed(ctx, "create_client", Some(client.id.as_str()), None)
            .await;
        Ok(())
    }

    /// Adds a key of each algorithm `settings` name that the ring has no current key of
    /// (race-free, see [`SigningKeys::ensure`]).
    async fn ensure_signing_keys(&self, settings: &ClientSettings) -> Result<(), Error> {
        let algs = settings.signing_algs();
        if algs.is_empty() {
            return Ok(());
        }
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| Error::internal("a signing key is needed but no server key is set"))?;
        let keys = SigningKeys::new(self.store.clone(), self.clock.clone());
        for alg in algs {
            if let Some(key) = keys.ensure(alg, sealer).await? {
                tracing::info!(kid = %key.kid, alg = alg.as_str(), "created a signing key for clients");
            }
        }
        Ok(())
    }

    /// The client to store: the new settings, the secret hashed (and sealed for
    /// `client_secret_jwt`, or sealed instead for HS256), or the stored secret kept when the
    /// change leaves it alone. `names_alg`: whether the change named `access_token_alg`.
    async fn build_client(
        &self,
        id: ClientId,
        secret: Change<SecretString>,
        mut settings: ClientSettings,
        existing: Option<Client>,
        names_alg: bool,
    ) -> Result<Client, Error> {
        // An HS256 client (`access_token_alg` HS256) keeps its sealed secret and its signing
        // while a PUT leaves the secret alone; a new secret makes it a regular client unless
        // the body names HS256 again.
        let keep = matches!(secret, Change::Keep);
        let secret_sealed = existing
            .as_ref()
            .and_then(|c| c.secret_sealed.clone())
            .filter(|_| keep);
        if secret_sealed.is_some() {
            if names_alg && settings.access_token_alg != AccessTokenAlg::Hs256 {
                return Err(Error::invalid_field(
                    "secret",
                    "an HS256 client needs a new secret to change its access_token_alg",
                ));
            }
            settings.access_token_alg = AccessTokenAlg::Hs256;
        }
        let old = existing.map(|c| (c.secret_hash, c.settings.sealed_secret));
        let mut hs256_secret = None;
        let (secret_hash, sealed) = match secret {
            Change::Keep => old.unwrap_or((None, None)),
            Change::Remove => (None, None),
            Change::Set(secret) if settings.access_token_alg == AccessTokenAlg::Hs256 => {
                hs256_secret = Some(secret);
                (None, None)
            }
            Change::Set(secret) => {
                let sealed = match &self.sealer {
                    Some(s) => Some(SecretSealer::seal(s.as_ref(), &id, &secret)?),
                    None => None,
                };
                (Some(self.hasher.hash(&secret).await?), sealed)
            }
        };
        check_auth_method(&mut settings, self.sealer.is_some(), sealed)?;
        let mut client = Client {
            id,
            secret_hash,
            secret_sealed,
            settings,
        };
        if let Some(secret) = hs256_secret {
            client.secret_sealed = Some(self.seal_hs256_secret(&client, &secret)?);
        }
        if client.settings.access_token_alg == AccessTokenAlg::Hs256
            && client.secret_sealed.is_none()
        {
            return Err(Error::invalid_field(
                "secret",
                "HS256 needs a client secret",
            ));
        }
        Ok(client)
    }

    /// An HS256 client's secret, sealed under the server key: the secret itself keys the
    /// client's tokens, so it cannot be stored as a hash.
    fn seal_hs256_secret(&self, client: &Client, secret: &SecretString) -> Result<Vec<u8>, Error> {
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            Error::invalid_field("secret", "HS256 needs a server key (GATEHOUSE_SECRET_KEY)")
        })?;
        sealer.seal(
            &client.secret_seal_context(),
            secret.expose_secret().as_bytes(),
        )
    }
}

/// What the chosen `token_endpoint_auth_method` needs: a sealed secret for
/// `client_secret_jwt`, a JWK Set for `private_key_jwt`.
fn check_auth_method(
    settings: &mut ClientSettings,
    can_seal: bool,
    sealed: Option<String>,
) -> Result<(), Error> {
    let method = settings.token_endpoint_auth_method;
    if method == Some(TokenEndpointAuthMethod::ClientSecretJwt) {
        if !can_seal {
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
    Ok(())
}
