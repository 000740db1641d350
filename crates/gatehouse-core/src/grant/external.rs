//! The password grant for users who live in an external store (issue 22): asked in order for
//! users the database does not hold, or only the user's own store for a user whose password it
//! still checks. The first successful login creates the local user (just in time) and, when
//! the store migrates, keeps the password's argon2id hash so the next login is local.
//!
//! Every failure costs the dummy hash and is held to the failure floor; a store that cannot
//! answer fails the login closed (`temporarily_unavailable`), never as a wrong password, and
//! counts against neither the address nor the account. Lockout counts a held user's failures
//! by its id, as for any user, and those of a user a store knows but the database does not
//! hold yet by name (`external:<username>`), once the store has said the name is theirs.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::json;

use super::password::BAD_CREDENTIALS;
use super::Grants;
use crate::audit::{EventKind, EventSubject, RequestContext};
use crate::claims::{Attributes, Roles};
use crate::client::Client;
use crate::clock::Stopwatch;
use crate::error::Error;
use crate::external_users::{ExternalUserStore, ExternalVerdict, Profile, EXTERNAL_PASSWORD};
use crate::login_guard::{user_key, Admission, Attempt, SourceAttempt};
use crate::password::HashPermit;
use crate::password_policy::normalize;
use crate::store::StoreError;
use crate::user::{User, Username};

/// Seconds a client is told to wait after a store could not answer.
const RETRY_AFTER: u64 = 5;

/// One login being checked against external stores.
pub(super) struct ExternalLogin<'a> {
    pub(super) ctx: &'a RequestContext,
    pub(super) client: &'a Client,
    /// The username as sent (events).
    pub(super) raw: &'a str,
    /// The username normalized: what stores are asked about.
    pub(super) name: Username,
    pub(super) typed: &'a str,
    pub(super) watch: Stopwatch,
}

/// What the stores said, and which one said it.
enum Found {
    Valid(Arc<dyn ExternalUserStore>, Profile),
    /// Refused; `confirmed` when a store found the user (a wrong password, not an unknown name).
    Invalid {
        confirmed: bool,
    },
    Outage(Arc<dyn ExternalUserStore>),
}

impl Grants {
    /// Checks the login against the stores: `user` is the local record, if any (its password
    /// checked by its store), and `attempt` its reserved lockout attempt.
    pub(super) async fn check_external(
        &self,
        login: ExternalLogin<'_>,
        user: Option<User>,
        attempt: Option<Attempt>,
        source: SourceAttempt,
        permit: HashPermit<'_>,
    ) -> Result<(User, Attempt, bool), Error> {
        let stores: Vec<Arc<dyn ExternalUserStore>> = match &user {
            // A user whose store is no longer configured fails like a wrong password.
            Some(u) => u
                .store
                .as_deref()
                .and_then(|s| self.external.store(s))
                .into_iter()
                .cloned()
                .collect(),
            None => self.external.stores().to_vec(),
        };
        // A user the database does not hold yet is counted by name, once a store has said
        // the name is theirs (see `Found::Invalid`); while locked, no store is asked.
        let name_key = external_key(&login.name);
        if user.is_none() && self.guard.is_locked(&name_key).await? {
            permit.check_typed(login.typed, None).await?;
            self.login_failed(login.ctx, login.client, login.raw, "locked")
                .await;
            self.external.equalise(login.watch).await;
            return Err(Error::InvalidGrant(BAD_CREDENTIALS.into()));
        }
        let password = SecretString::from(login.typed.to_owned());
        let found = ask(&stores, &login.name, &password).await;
        match found {
            Found::Valid(store, profile) => {
                drop(permit);
                self.guard.refund_source(source).await;
                let user = match user {
                    Some(user) => self.refresh_profile(user, &profile).await,
                    None => {
                        // Failures counted by name before the user existed are forgotten.
                        self.guard.unlock(&name_key).await?;
                        self.create_user(&login, store.as_ref(), profile).await?
                    }
                };
                if store.migrates() && user.is_checked_externally() {
                    // Also a store switched to `migrate = true` after its users were cached.
                    self.upgrade_hash(&user, &normalize(login.typed)).await;
                }
                let attempt = match attempt {
                    Some(attempt) => attempt,
                    None => match self.guard.reserve(&user_key(&user.id)).await? {
                        Admission::Proceed(attempt) => attempt,
                        Admission::Locked { .. } => {
                            return Err(Error::InvalidGrant(BAD_CREDENTIALS.into()))
                        }
                    },
                };
                Ok((user, attempt, false))
            }
            Found::Outage(store) => {
                drop(permit);
                // Not a failure of the address nor of the account: nothing was judged.
                self.guard.refund_source(source).await;
                if let Some(attempt) = attempt {
                    self.guard.refund(attempt).await?;
                }
                let detail = json!({
                    "grant_type": "password",
                    "reason": "user_store_unavailable",
                    "store": store.name(),
                });
                let about = EventSubject::login(login.client.id.as_str(), login.raw);
                self.audit
                    .record(EventKind::LoginFailure, login.ctx, about, detail)
                    .await;
                Err(Error::UserStoreUnavailable {
                    retry_after: RETRY_AFTER,
                })
            }
            Found::Invalid { confirmed } => {
                // The hash a local wrong password costs, so the two take alike.
                permit.check_typed(login.typed, None).await?;
                self.login_failed(login.ctx, login.client, login.raw, "bad_credentials")
                    .await;
                let about = EventSubject::login(login.client.id.as_str(), login.raw);
                if let Some(attempt) = attempt {
                    self.guard.failed(attempt, login.ctx, about).await;
                } else if confirmed {
                    // Counted after the store answered: only names a store knows get a row,
                    // so guessing names grows no table. Concurrent guesses may each be asked
                    // before the count locks the name (the hash pool bounds how many).
                    if let Admission::Proceed(attempt) = self.guard.reserve(&name_key).await? {
                        self.guard.failed(attempt, login.ctx, about).await;
                    }
                }
                self.external.observe(login.watch.elapsed());
                self.external.equalise(login.watch).await;
                Err(Error::InvalidGrant(BAD_CREDENTIALS.into()))
            }
        }
    }

    /// The local user made on the first successful login through `store` (or, when a
    /// concurrent login made it first, that one).
    async fn create_user(
        &self,
        login: &ExternalLogin<'_>,
        store: &dyn ExternalUserStore,
        profile: Profile,
    ) -> Result<User, Error> {
        let now = self.clock.now();
        let attributes = profile_attributes(&profile, &Attributes::default());
        let roles = profile_roles(&profile).unwrap_or_default();
        let user = User {
            id: crate::random::id(),
            username: login.name.clone(),
            // Migrated right after, by the caller, when the store migrates.
            password_hash: EXTERNAL_PASSWORD.into(),
            email: profile.email,
            phone: profile.phone,
            scopes: None,
            created_at: now,
            active: true,
            session_epoch: 0,
            password_changed_at: now,
            password_change_required: None,
            attributes,
            roles,
            store: Some(store.name().to_owned()),
        };
        match self.users.insert_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return self
                    .users
                    .find_user(&login.name)
                    .await?
                    .ok_or_else(|| Error::internal("a user made concurrently vanished"));
            }
            Err(err) => return Err(err.into()),
        }
        let detail = json!({
            "action": "create_user",
            "via": "user_store",
            "store": store.name(),
            "migrate": store.migrates(),
        });
        let about = EventSubject::user(user.username.as_str());
        self.audit
            .record(EventKind::AdminChange, login.ctx, about, detail)
            .await;
        Ok(user)
    }

    /// `user` with the profile its store just gave (email, phone, the `name` attribute and
    /// the roles: those the store names replace the user's; a store that names none leaves
    /// them), saved when it changed. A failure to save is logged: the login goes on.
    async fn refresh_profile(&self, mut user: User, profile: &Profile) -> User {
        let email = profile.email.clone().or_else(|| user.email.clone());
        let phone = profile.phone.clone().or_else(|| user.phone.clone());
        let attributes = profile_attributes(profile, &user.attributes);
        let roles = profile_roles(profile).unwrap_or_else(|| user.roles.clone());
        if email == user.email
            && phone == user.phone
            && attributes == user.attributes
            && roles == user.roles
        {
            return user;
        }
        user.email = email;
        user.phone = phone;
        user.attributes = attributes;
        user.roles = roles;
        if let Err(err) = self.users.update_user(&user, self.clock.now()).await {
            tracing::warn!(user = %user.id, %err, "could not update the profile from its store");
        }
        user
    }
}

/// Asks `stores` in order until one knows the user; an outage stops the search (the user may
/// live in the store that could not answer).
async fn ask(
    stores: &[Arc<dyn ExternalUserStore>],
    name: &Username,
    password: &SecretString,
) -> Found {
    for store in stores {
        match store.check(name, password).await {
            Ok(ExternalVerdict::Valid(profile)) => return Found::Valid(store.clone(), profile),
            Ok(ExternalVerdict::WrongPassword) => return Found::Invalid { confirmed: true },
            Ok(ExternalVerdict::Unknown) => continue,
            Err(outage) => {
                tracing::warn!(store = store.name(), error = %outage, "user store unavailable");
                return Found::Outage(store.clone());
            }
        }
    }
    Found::Invalid { confirmed: false }
}

/// The lockout key of a user a store knows but the database does not hold yet.
fn external_key(name: &Username) -> String {
    format!("external:{}", name.as_str())
}

/// The user's attributes with the store's display name as `name` (when it gave one and it
/// fits the attribute bounds; otherwise `base` unchanged).
fn profile_attributes(profile: &Profile, base: &Attributes) -> Attributes {
    let Some(name) = &profile.name else {
        return base.clone();
    };
    let mut map = base.as_map().clone();
    map.insert("name".into(), serde_json::Value::String(name.clone()));
    Attributes::from_map(map).unwrap_or_else(|_| base.clone())
}

/// The store's groups as roles, or `None` when it named none. A group given as a DN
/// (`cn=admins,ou=groups,dc=example,dc=com`, LDAP's `memberOf`) is named by its first value
/// (`admins`); a name that is no valid role (spaces, too long) is left out, and so is any past
/// the most a user may have.
fn profile_roles(profile: &Profile) -> Option<Roles> {
    if profile.roles.is_empty() {
        return None;
    }
    let names = profile
        .roles
        .iter()
        .map(|group| group_name(group))
        .filter(|name| Roles::parse([name.as_str()]).is_ok());
    let mut kept: Vec<String> = Vec::new();
    for name in names {
        if !kept.contains(&name) && Roles::parse(kept.iter().chain([&name])).is_ok() {
            kept.push(name);
        }
    }
    Roles::parse(kept).ok()
}

/// The first RDN value of a DN, or the text itself when it is no DN.
fn group_name(group: &str) -> String {
    match group.split_once('=') {
        Some((_, rest)) if group.contains(',') => {
            rest.split(',').next().unwrap_or(rest).trim().to_owned()
        }
        _ => group.trim().to_owned(),
    }
}

#[cfg(test)]
mod profile_tests {
    use super::*;

    fn profile(roles: &[&str], name: Option<&str>) -> Profile {
        Profile {
            email: None,
            phone: None,
            name: name.map(str::to_owned),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn groups_become_roles_by_their_first_value() {
        let p = profile(
            &[
                "cn=admins,ou=groups,dc=example,dc=com",
                "billing",
                "cn=Domain Users,dc=x",
                "admins",
            ],
            None,
        );
        let roles = profile_roles(&p).unwrap();
        assert_eq!(roles.iter().collect::<Vec<_>>(), ["admins", "billing"]);
        assert_eq!(profile_roles(&profile(&[], None)), None);
    }

    #[test]
    fn the_display_name_is_the_name_attribute() {
        let attrs = profile_attributes(&profile(&[], Some("Ann Example")), &Attributes::default());
        assert_eq!(attrs.get("name").unwrap(), "Ann Example");
        let same = profile_attributes(&profile(&[], None), &attrs);
        assert_eq!(same, attrs);
    }
}
