//! User operations of [`AdminService`]: add (the CLI's `user add`), import (already hashed
//! passwords, `user import`), create-or-replace (PUT), read, list, remove, set a password, and
//! unlock an account the brute-force defence locked.

use secrecy::SecretString;
use serde_json::{json, Value};

use super::{bundle, user, AdminService};
use crate::audit::{EventKind, EventSubject, RequestContext};
use crate::error::Error;
use crate::login_guard::user_key;
use crate::random;
use crate::scope::ScopeSet;
use crate::store::StoreError;
use crate::user::{User, Username};
use crate::user_import::ImportedUser;

/// A user to add.
pub struct NewUser {
    /// The (normalized) username.
    pub username: Username,
    /// The password, hashed with argon2id before it is stored.
    pub password: SecretString,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// The scopes the user may be granted; `None` for whatever the client allows.
    pub scopes: Option<ScopeSet>,
    /// Whether the user may log in.
    pub active: bool,
}

/// What importing one user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// The user was added.
    Added,
    /// A user of that name exists already; nothing changed.
    Exists,
}

impl AdminService {
    /// Adds a user; `Conflict` if the username is taken.
    pub async fn add_user(&self, ctx: &RequestContext, new: NewUser) -> Result<User, Error> {
        let user = User {
            id: random::id(),
            username: new.username,
            password_hash: self.hasher.hash(&new.password).await?,
            email: new.email,
            phone: new.phone,
            scopes: new.scopes,
            created_at: self.clock.now(),
            active: new.active,
            session_epoch: 0,
        };
        self.store.insert_user(&user).await.map_err(conflict)?;
        self.changed(ctx, "create_user", None, Some(user.username.as_str()))
            .await;
        Ok(user)
    }

    /// The highest cost of a stored password hash that logins will compute; an import refuses
    /// hashes over it.
    pub fn hash_ceiling(&self) -> crate::hash_ceiling::HashCeiling {
        self.hasher.ceiling()
    }

    /// Adds a user whose password hash comes from another system; an existing user of that
    /// name is left alone, so that an import can be run again.
    pub async fn import_user(
        &self,
        ctx: &RequestContext,
        user: ImportedUser,
    ) -> Result<Imported, Error> {
        // `parse_line` refuses these already; a caller that built the user itself is held to
        // the same ceiling.
        self.hasher
            .ceiling()
            .check(&user.password_hash)
            .map_err(Error::invalid_request)?;
        let record = User {
            id: random::id(),
            username: user.username,
            password_hash: user.password_hash,
            email: user.email,
            phone: user.phone,
            scopes: user.scopes,
            created_at: self.clock.now(),
            active: true,
            session_epoch: 0,
        };
        match self.store.insert_user(&record).await {
            Ok(()) => {
                let name = Some(record.username.as_str());
                self.changed(ctx, "import_user", None, name).await;
                Ok(Imported::Added)
            }
            Err(StoreError::Conflict) => Ok(Imported::Exists),
            Err(err) => Err(err.into()),
        }
    }

    /// Replaces a user's password and ends their sessions as the server is configured to
    /// (`keep_session`: the session the change is made from, kept under `all-but-current`).
    pub async fn set_password(
        &self,
        ctx: &RequestContext,
        username: &str,
        password: &SecretString,
        keep_session: Option<&str>,
    ) -> Result<(), Error> {
        let user = self.find_user(username).await?;
        let hash = self.hasher.hash(password).await?;
        self.store
            .set_password_hash(&user.username, &hash, self.clock.now())
            .await?;
        self.changed(ctx, "set_password", None, Some(user.username.as_str()))
            .await;
        self.password_changed(ctx, &user.id, user.username.as_str(), keep_session)
            .await
    }

    /// Enables or disables a user (`user enable|disable`); disabling ends every session of
    /// theirs, and their logins then fail as a wrong password does.
    pub async fn set_active(
        &self,
        ctx: &RequestContext,
        username: &str,
        active: bool,
    ) -> Result<User, Error> {
        let user = self.find_user(username).await?;
        let updated = User { active, ..user };
        if !active {
            self.end_sessions_of_disabled(ctx, &updated).await?;
        }
        self.store.update_user(&updated, self.clock.now()).await?;
        if !active {
            self.end_logins_since(&updated).await?;
        }
        let action = if active {
            "enable_user"
        } else {
            "disable_user"
        };
        self.changed(ctx, action, None, Some(updated.username.as_str()))
            .await;
        Ok(updated)
    }

    /// Ends the sessions of a user about to be disabled, while they are still live and so
    /// listed in the `session_revoked` event (a disabled user's sessions are not live).
    async fn end_sessions_of_disabled(
        &self,
        ctx: &RequestContext,
        user: &User,
    ) -> Result<(), Error> {
        let name = user.username.as_str();
        self.end_sessions(ctx, &user.id, name, None, "user_disabled")
            .await
    }

    /// After disabling `user`: ends any session a login opened since
    /// [`Self::end_sessions_of_disabled`], so that enabling the user cannot bring it back.
    async fn end_logins_since(&self, user: &User) -> Result<(), Error> {
        self.store
            .end_user_sessions(&user.id, None, self.clock.now())
            .await?;
        Ok(())
    }

    /// `PUT /User/{username}`: creates or replaces; `true` when created. A new password ends
    /// the user's sessions as the server is configured to (`keep_session`: the session the
    /// change is made from), `"active": false` ends them all.
    pub async fn put_user(
        &self,
        ctx: &RequestContext,
        username: &str,
        body: &Value,
        keep_session: Option<&str>,
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
            active: true,
            session_epoch: 0,
        });
        let was_active = base.active;
        let updated = User {
            password_hash,
            email: user::apply(base.email.clone(), parsed.email),
            phone: user::apply(base.phone.clone(), parsed.phone),
            scopes: user::apply(base.scopes.clone(), parsed.scopes),
            active: parsed.active.unwrap_or(base.active),
            ..base
        };
        let disabled = !created && was_active && !updated.active;
        if disabled {
            self.end_sessions_of_disabled(ctx, &updated).await?;
        }
        let action = if created {
            self.store.insert_user(&updated).await?;
            "create_user"
        } else {
            self.store.update_user(&updated, now).await?;
            "update_user"
        };
        if disabled {
            self.end_logins_since(&updated).await?;
        }
        self.changed(ctx, action, None, Some(updated.username.as_str()))
            .await;
        let name = updated.username.as_str();
        if !created && !disabled && parsed.password.is_some() {
            self.password_changed(ctx, &updated.id, name, keep_session)
                .await?;
        }
        Ok((user::render(&updated), created))
    }

    /// One user; `NotFound` if there is none of this name.
    pub async fn find_user(&self, username: &str) -> Result<User, Error> {
        let missing = || Error::NotFound("no such user".into());
        let name = Username::parse(username).map_err(|_| missing())?;
        self.store.find_user(&name).await?.ok_or_else(missing)
    }

    /// `GET /User/{username}`.
    pub async fn user(&self, username: &str) -> Result<Value, Error> {
        Ok(user::render(&self.find_user(username).await?))
    }

    /// Every user.
    pub async fn list_users(&self) -> Result<Vec<User>, Error> {
        Ok(self.store.list_users().await?)
    }

    /// `GET /User`: every user, as a search Bundle.
    pub async fn users(&self) -> Result<Value, Error> {
        let all = self.list_users().await?;
        Ok(bundle(all.iter().map(user::render).collect()))
    }

    /// Removes a user; returns them as they were.
    pub async fn remove_user(&self, ctx: &RequestContext, username: &str) -> Result<User, Error> {
        let user = self.find_user(username).await?;
        let sessions = self.store.delete_user(&user.username).await?;
        self.changed(ctx, "delete_user", None, Some(user.username.as_str()))
            .await;
        let subject = EventSubject::user(user.username.as_str());
        self.sessions_removed(ctx, subject, sessions, "user_deleted")
            .await;
        Ok(user)
    }

    /// `DELETE /User/{username}`: the resource as it was.
    pub async fn delete_user(&self, ctx: &RequestContext, username: &str) -> Result<Value, Error> {
        Ok(user::render(&self.remove_user(ctx, username).await?))
    }

    /// Forgets a user's failed logins and lifts any lockout; returns the user and whether there
    /// was anything to forget.
    pub async fn unlock(
        &self,
        ctx: &RequestContext,
        username: &str,
    ) -> Result<(User, bool), Error> {
        let user = self.find_user(username).await?;
        let had_failures = self.guard.unlock(&user_key(&user.id)).await?;
        let detail = json!({ "had_failures": had_failures, "via": self.via.as_str() });
        let about = EventSubject::user(user.username.as_str());
        self.audit
            .record(EventKind::Unlock, ctx, about, detail)
            .await;
        Ok((user, had_failures))
    }

    /// Unlocks a user; `{"username", "unlocked"}` says whether there was anything to forget.
    pub async fn unlock_user(&self, ctx: &RequestContext, username: &str) -> Result<Value, Error> {
        let (user, unlocked) = self.unlock(ctx, username).await?;
        Ok(json!({ "username": user.username.as_str(), "unlocked": unlocked }))
    }
}

fn conflict(err: StoreError) -> Error {
    match err {
        StoreError::Conflict => Error::Conflict("a user with this name exists".into()),
        other => other.into(),
    }
}
