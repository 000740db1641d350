//! User operations of [`AdminService`]: add (the CLI's `user add`), import (already hashed
//! passwords, `user import`), create-or-replace (PUT), read, list, remove, set a password, and
//! unlock an account the brute-force defence locked.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::fields::Change;
use super::{bundle, user, AdminService};
use crate::audit::{EventKind, EventSubject, RequestContext};
use crate::claims::{Attributes, Roles};
use crate::error::Error;
use crate::login_guard::user_key;
use crate::password_policy::{normalize, PasswordContext};
use crate::random;
use crate::scope::ScopeSet;
use crate::store::{PasswordChange, StoreError};
use crate::user::{User, Username};
use crate::user_import::{ImportedPassword, ImportedUser};

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
    /// Attributes, for clients' claim mappers.
    pub attributes: Attributes,
    /// Roles, for clients' claim mappers.
    pub roles: Roles,
    /// Set the password even if it fails the policy (`--allow-weak-password`); recorded.
    pub allow_weak_password: bool,
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
        let about = PasswordContext {
            username: new.username.as_str(),
            email: new.email.as_deref(),
            client: None,
        };
        let weak = new.allow_weak_password;
        let password_hash = self
            .new_password_hash(ctx, &about, &new.password, &[], weak)
            .await?;
        let now = self.clock.now();
        let user = User {
            id: random::id(),
            username: new.username,
            password_hash,
            email: new.email,
            phone: new.phone,
            scopes: new.scopes,
            created_at: now,
            active: new.active,
            session_epoch: 0,
            password_changed_at: now,
            password_change_required: None,
            attributes: new.attributes,
            roles: new.roles,
            store: None,
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

    /// Adds a user whose password hash comes from another system, or whose plaintext password
    /// is held to the rules (unless `allow_weak`, recorded) and hashed; an existing user of
    /// that name is left alone, so that an import can be run again.
    pub async fn import_user(
        &self,
        ctx: &RequestContext,
        user: ImportedUser,
        allow_weak: bool,
    ) -> Result<Imported, Error> {
        let password_hash = match &user.password {
            // `parse_line` refuses these already; a caller that built the user itself is held
            // to the same ceiling.
            ImportedPassword::Hash(hash) => {
                self.hasher
                    .ceiling()
                    .check(hash)
                    .map_err(Error::invalid_request)?;
                hash.clone()
            }
            ImportedPassword::Plain(password) => {
                if self.store.find_user(&user.username).await?.is_some() {
                    return Ok(Imported::Exists);
                }
                let about = PasswordContext {
                    username: user.username.as_str(),
                    email: user.email.as_deref(),
                    client: None,
                };
                self.new_password_hash(ctx, &about, password, &[], allow_weak)
                    .await?
            }
        };
        let record = User {
            id: random::id(),
            username: user.username,
            password_hash,
            email: user.email,
            phone: user.phone,
            scopes: user.scopes,
            created_at: self.clock.now(),
            active: true,
            session_epoch: 0,
            password_changed_at: self.clock.now(),
            password_change_required: None,
            attributes: user.attributes,
            roles: user.roles,
            store: None,
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
        allow_weak: bool,
    ) -> Result<(), Error> {
        let user = self.find_user(username).await?;
        self.replace_password(ctx, &user, password, None, allow_weak)
            .await?;
        self.changed(ctx, "set_password", None, Some(user.username.as_str()))
            .await;
        self.password_changed(ctx, &user.id, user.username.as_str(), keep_session)
            .await
    }

    /// Replaces `user`'s password with `password`, held to the rules (for `client`, when the
    /// user changes it through one) unless `allow_weak`, and never one of their last
    /// `--password-history` passwords. `Conflict` when the password changed meanwhile.
    pub(crate) async fn replace_password(
        &self,
        ctx: &RequestContext,
        user: &User,
        password: &SecretString,
        client: Option<(&str, &crate::client::ClientSettings)>,
        allow_weak: bool,
    ) -> Result<(), Error> {
        let replacement = self
            .prepare_password(ctx, user, password, client, allow_weak)
            .await?;
        self.commit_password(user, replacement).await
    }

    /// The new hash and history of a password replacement, checked; nothing is written.
    async fn prepare_password(
        &self,
        ctx: &RequestContext,
        user: &User,
        password: &SecretString,
        client: Option<(&str, &crate::client::ClientSettings)>,
        allow_weak: bool,
    ) -> Result<(String, Vec<String>), Error> {
        let history = self.store.password_history(&user.username).await?;
        let previous: Vec<String> = std::iter::once(user.password_hash.clone())
            .chain(history.iter().cloned())
            .collect();
        let about = PasswordContext {
            username: user.username.as_str(),
            email: user.email.as_deref(),
            client,
        };
        let hash = self
            .new_password_hash(ctx, &about, password, &previous, allow_weak)
            .await?;
        Ok((hash, self.rules.next_history(user, history)))
    }

    /// Stores a replacement [`Self::prepare_password`] made, while `user`'s hash is unchanged.
    async fn commit_password(
        &self,
        user: &User,
        (hash, history): (String, Vec<String>),
    ) -> Result<(), Error> {
        let change = PasswordChange {
            username: &user.username,
            replaces: &user.password_hash,
            hash: &hash,
            history: &history,
            now: self.clock.now(),
        };
        self.store
            .change_password(change)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => {
                    Error::Conflict("the password was changed meanwhile; try again".into())
                }
                other => other.into(),
            })
    }

    /// The hash of a new password: checked against the rules (a failure that `allow_weak`
    /// lets through is recorded as an event naming the rule), then normalised and hashed.
    async fn new_password_hash(
        &self,
        ctx: &RequestContext,
        about: &PasswordContext<'_>,
        password: &SecretString,
        previous: &[String],
        allow_weak: bool,
    ) -> Result<String, Error> {
        let typed = password.expose_secret();
        match self
            .rules
            .check_new(&self.hasher, typed, about, previous)
            .await
        {
            Ok(()) => {}
            Err(Error::InvalidPassword { rule, .. }) if allow_weak => {
                let detail = json!({ "rule": rule, "via": self.via.as_str() });
                let subject = EventSubject::user(about.username);
                self.audit
                    .record(EventKind::WeakPasswordAllowed, ctx, subject, detail)
                    .await;
            }
            Err(err) => return Err(err),
        }
        let normal = SecretString::from(normalize(typed).into_owned());
        self.hasher.hash(&normal).await
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
        let weak = parsed.allow_weak_password;
        let password_hash = match (&parsed.password, &existing) {
            // A new user's password is checked and hashed here; an existing user's is replaced
            // after the other fields, through `replace_password` (history, concurrent changes).
            (Some(p), None) => {
                let email = match &parsed.email {
                    Change::Set(e) => Some(e.as_str()),
                    _ => None,
                };
                let about = PasswordContext {
                    username: name.as_str(),
                    email,
                    client: None,
                };
                self.new_password_hash(ctx, &about, p, &[], weak).await?
            }
            (_, Some(u)) => u.password_hash.clone(),
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
            password_changed_at: now,
            password_change_required: None,
            attributes: Attributes::default(),
            roles: Roles::default(),
            store: None,
        });
        let was_active = base.active;
        let updated = User {
            password_hash,
            email: user::apply(base.email.clone(), parsed.email),
            phone: user::apply(base.phone.clone(), parsed.phone),
            scopes: user::apply(base.scopes.clone(), parsed.scopes),
            active: parsed.active.unwrap_or(base.active),
            attributes: user::apply(Some(base.attributes.clone()), parsed.attributes)
                .unwrap_or_default(),
            roles: user::apply(Some(base.roles.clone()), parsed.roles).unwrap_or_default(),
            ..base
        };
        let disabled = !created && was_active && !updated.active;
        // An existing user's new password is checked before anything is written, and stored
        // after the other fields, through the history and the concurrent-change check.
        let replacement = match (created, &parsed.password) {
            (false, Some(p)) => Some(self.prepare_password(ctx, &updated, p, None, weak).await?),
            _ => None,
        };
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
        if let Some(replacement) = replacement {
            self.commit_password(&updated, replacement).await?;
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
