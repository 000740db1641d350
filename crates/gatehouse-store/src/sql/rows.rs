//! How each record is read from a row of the shared SQL, by column name. Every function takes a
//! row of a `SELECT` that names the record's columns (see each one's doc).

use gatehouse_core::claims::{Attributes, Roles};
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::store::{
    AccessTokenRecord, Authenticator, AuthenticatorKind, Event, MfaTokenRecord, RefreshTokenRecord,
    StoreError, StoredKey, TokenFamily, TokenOwner,
};
use gatehouse_core::user::{User, Username};

use super::corrupt;
use crate::backend::Backend;

/// `id, secret_hash, secret_sealed, settings` of `clients`.
pub(crate) fn client<DB: Backend>(row: &DB::Row) -> Result<Client, StoreError> {
    let settings = DB::text(row, "settings")?;
    Ok(Client {
        id: ClientId::parse(&DB::text(row, "id")?).map_err(corrupt)?,
        secret_hash: DB::opt_text(row, "secret_hash")?,
        secret_sealed: DB::opt_bytes(row, "secret_sealed")?,
        settings: serde_json::from_str(&settings).map_err(corrupt)?,
    })
}

/// `id, username, password_hash, email, phone, scopes, created_at, active, session_epoch,
/// password_changed_at, password_change_required, attributes, roles` of `users`; scopes are
/// stored space-delimited, attributes and roles as JSON.
pub(crate) fn user<DB: Backend>(row: &DB::Row) -> Result<User, StoreError> {
    let scopes = DB::opt_text(row, "scopes")?;
    Ok(User {
        id: DB::text(row, "id")?,
        username: Username::from_trusted(DB::text(row, "username")?),
        password_hash: DB::text(row, "password_hash")?,
        email: DB::opt_text(row, "email")?,
        phone: DB::opt_text(row, "phone")?,
        scopes: scopes.map(|s| ScopeSet::from_trusted(s.split(' ').filter(|t| !t.is_empty()))),
        created_at: DB::int(row, "created_at")?,
        active: DB::boolean(row, "active")?,
        session_epoch: DB::int(row, "session_epoch")?,
        password_changed_at: DB::int(row, "password_changed_at")?,
        password_change_required: DB::opt_text(row, "password_change_required")?,
        attributes: Attributes::from_stored(&DB::text(row, "attributes")?).map_err(corrupt)?,
        roles: Roles::from_stored(&DB::text(row, "roles")?).map_err(corrupt)?,
        store: DB::opt_text(row, "store")?,
    })
}

/// The user of `hot::FIND_ACCESS_TOKEN`'s row (`username, attributes, roles`), `None` when it
/// has none.
pub(crate) fn token_owner<DB: Backend>(row: &DB::Row) -> Result<Option<TokenOwner>, StoreError> {
    let Some(username) = DB::opt_text(row, "username")? else {
        return Ok(None);
    };
    Ok(Some(TokenOwner {
        username,
        attributes: Attributes::from_stored(&DB::text(row, "attributes")?).map_err(corrupt)?,
        roles: Roles::from_stored(&DB::text(row, "roles")?).map_err(corrupt)?,
    }))
}

/// `kid, alg, private_der, created_at, serves_default` of `signing_keys`.
pub(crate) fn signing_key<DB: Backend>(row: &DB::Row) -> Result<StoredKey, StoreError> {
    Ok(StoredKey {
        kid: DB::text(row, "kid")?,
        alg: DB::text(row, "alg")?,
        private_der: DB::bytes(row, "private_der")?,
        created_at: DB::int(row, "created_at")?,
        serves_default: DB::boolean(row, "serves_default")?,
    })
}

/// A refresh token and its family: the columns of `refresh_tokens` and of `token_families`
/// (`f.created_at AS family_created_at`).
pub(crate) fn refresh_token<DB: Backend>(
    row: &DB::Row,
) -> Result<(RefreshTokenRecord, TokenFamily), StoreError> {
    let family_id = DB::text(row, "family_id")?;
    let refresh = RefreshTokenRecord {
        token_hash: DB::text(row, "token_hash")?,
        family_id: family_id.clone(),
        parent_hash: DB::opt_text(row, "parent_hash")?,
        scope: DB::text(row, "scope")?,
        created_at: DB::int(row, "created_at")?,
        idle_expires_at: DB::int(row, "idle_expires_at")?,
        used_at: DB::opt_int(row, "used_at")?,
    };
    let family = TokenFamily {
        id: family_id,
        client_id: DB::text(row, "client_id")?,
        user_id: DB::text(row, "user_id")?,
        auth_time: DB::int(row, "auth_time")?,
        created_at: DB::int(row, "family_created_at")?,
        expires_at: DB::int(row, "expires_at")?,
        revoked_at: DB::opt_int(row, "revoked_at")?,
        user_epoch: DB::int(row, "user_epoch")?,
        amr: split_amr(&DB::text(row, "amr")?),
        authenticator_id: DB::opt_text(row, "authenticator_id")?,
        scope: DB::text(row, "family_scope")?,
        ip: DB::opt_text(row, "ip")?,
        user_agent: DB::opt_text(row, "user_agent")?,
    };
    Ok((refresh, family))
}

/// The columns of `hot::FIND_ACCESS_TOKEN` but the username.
pub(crate) fn access_token<DB: Backend>(row: &DB::Row) -> Result<AccessTokenRecord, StoreError> {
    let family_id = DB::opt_text(row, "family_id")?;
    let user_id = DB::text(row, "user_id")?;
    let revoked = access_token_revoked(&AccessTokenLife {
        revoked: DB::boolean(row, "revoked")?,
        client_token: family_id.is_none() && user_id.is_empty(),
        has_family: family_id.is_some(),
        family_found: DB::boolean(row, "family_found")?,
        family_revoked: DB::opt_int(row, "revoked_at")?.is_some(),
        user_epoch: DB::int(row, "user_epoch")?,
        user_found: DB::boolean(row, "user_found")?,
        active: DB::boolean(row, "active")?,
        session_epoch: DB::int(row, "session_epoch")?,
    });
    Ok(AccessTokenRecord {
        id: DB::text(row, "id")?,
        family_id,
        client_id: DB::text(row, "client_id")?,
        user_id,
        scope: DB::text(row, "scope")?,
        auth_time: DB::int(row, "auth_time")?,
        issued_at: DB::int(row, "issued_at")?,
        expires_at: DB::int(row, "expires_at")?,
        revoked,
        amr: split_amr(&DB::text(row, "amr")?),
    })
}

/// What a read of an access token learns of the life of its session.
pub(crate) struct AccessTokenLife {
    /// The token itself was revoked.
    pub(crate) revoked: bool,
    /// It is a client token (no family, no user: the client credentials grant), which no
    /// session or user decides about.
    pub(crate) client_token: bool,
    /// It was issued in a family (every token since sessions were introduced).
    pub(crate) has_family: bool,
    /// Its family still exists.
    pub(crate) family_found: bool,
    /// Its family was revoked.
    pub(crate) family_revoked: bool,
    /// Its family's user epoch.
    pub(crate) user_epoch: i64,
    /// Its user still exists.
    pub(crate) user_found: bool,
    /// Its user is active.
    pub(crate) active: bool,
    /// Its user's current session epoch.
    pub(crate) session_epoch: i64,
}

/// Whether an access token is dead: revoked itself, or its session ended (its family revoked,
/// removed with its client or user, or of an older epoch than its user's), or its user removed
/// or disabled. A client token has neither session nor user: only its own revocation counts
/// (it is removed with its client).
pub(crate) fn access_token_revoked(life: &AccessTokenLife) -> bool {
    if life.client_token {
        return life.revoked;
    }
    let session_ended = life.has_family
        && (!life.family_found || life.family_revoked || life.user_epoch != life.session_epoch);
    life.revoked || session_ended || !life.user_found || !life.active
}

/// `amr` as stored, space-delimited.
pub(crate) fn split_amr(stored: &str) -> Vec<String> {
    stored
        .split(' ')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The columns of `events`; a `detail` that is not JSON is kept as a string.
pub(crate) fn event<DB: Backend>(row: &DB::Row) -> Result<Event, StoreError> {
    event_with_id::<DB>(row, "id")
}

/// The columns of `events`, its id read from the column `id_column` (a query that joins
/// another table with an `id` renames the event's).
pub(crate) fn event_with_id<DB: Backend>(
    row: &DB::Row,
    id_column: &str,
) -> Result<Event, StoreError> {
    let detail = DB::text(row, "detail")?;
    Ok(Event {
        id: DB::text(row, id_column)?,
        at: DB::int(row, "at")?,
        kind: DB::text(row, "kind")?,
        client_id: DB::opt_text(row, "client_id")?,
        user: DB::opt_text(row, "username")?,
        ip: DB::opt_text(row, "ip")?,
        request_id: DB::opt_text(row, "request_id")?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
    })
}

/// The columns of `mfa_authenticators`.
pub(crate) fn authenticator<DB: Backend>(row: &DB::Row) -> Result<Authenticator, StoreError> {
    let kind = DB::text(row, "kind")?;
    let kind = AuthenticatorKind::parse(&kind).ok_or_else(|| {
        corrupt(sqlx::Error::Decode(
            format!("unknown authenticator kind {kind:?}").into(),
        ))
    })?;
    Ok(Authenticator {
        id: DB::text(row, "id")?,
        user_id: DB::text(row, "user_id")?,
        kind,
        secret_sealed: DB::opt_bytes(row, "secret_sealed")?,
        code_hash: DB::opt_text(row, "code_hash")?,
        active: DB::boolean(row, "active")?,
        last_step: DB::int(row, "last_step")?,
        created_at: DB::int(row, "created_at")?,
    })
}

/// The columns of `mfa_tokens`.
pub(crate) fn mfa_token<DB: Backend>(row: &DB::Row) -> Result<MfaTokenRecord, StoreError> {
    Ok(MfaTokenRecord {
        token_hash: DB::text(row, "token_hash")?,
        user_id: DB::text(row, "user_id")?,
        client_id: DB::text(row, "client_id")?,
        scope: DB::text(row, "scope")?,
        created_at: DB::int(row, "created_at")?,
        expires_at: DB::int(row, "expires_at")?,
        used_at: DB::opt_int(row, "used_at")?,
    })
}

/// The `drained_at` column of a bucket (`source_failures`, `mfa_failures`).
pub(crate) fn drained_at<DB: Backend>(row: &DB::Row) -> Result<i64, StoreError> {
    DB::int(row, "drained_at")
}
