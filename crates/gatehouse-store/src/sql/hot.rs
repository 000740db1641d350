//! The statements of the request hot path, written once for both back ends: PostgreSQL runs
//! them on its sqlx pool (`postgres.rs`), SQLite on its rusqlite connections (`sqlite/`). Each
//! names its `$n` placeholders in order, so SQLite numbers them as PostgreSQL does; the reads
//! list their columns in the order the SQLite readers take them by index, and each insert comes
//! with its values ([`Insert`]), so statement and bind order are written in one place.

use gatehouse_core::store::{AccessTokenRecord, Event, RefreshTokenRecord, TokenFamily};

use crate::backend::Param;

/// One insert of the hot path: its statement and the values of its placeholders, in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Insert<'a, const N: usize> {
    /// The statement.
    pub(crate) sql: &'static str,
    /// `$1` to `$N`.
    pub(crate) params: [Param<'a>; N],
}

/// A client by id: `id, secret_hash, secret_sealed, settings`.
pub(crate) const FIND_CLIENT: &str =
    "SELECT id, secret_hash, secret_sealed, settings FROM clients WHERE id = $1";

/// A user by id: `id, username, password_hash, email, phone, scopes, created_at`.
pub(crate) const FIND_USER_BY_ID: &str =
    "SELECT id, username, password_hash, email, phone, scopes, created_at \
     FROM users WHERE id = $1";

/// A refresh token by hash, with the columns of its family.
pub(crate) const FIND_REFRESH_TOKEN: &str =
    "SELECT r.token_hash, r.family_id, r.parent_hash, r.scope, r.created_at, \
     r.idle_expires_at, r.used_at, f.client_id, f.user_id, f.auth_time, \
     f.created_at AS family_created_at, f.expires_at, f.revoked_at \
     FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
     WHERE r.token_hash = $1";

/// An access token by id, with its family's `revoked_at`.
pub(crate) const FIND_ACCESS_TOKEN: &str =
    "SELECT a.id, a.family_id, a.client_id, a.user_id, a.scope, a.auth_time, \
     a.issued_at, a.expires_at, a.revoked, f.revoked_at \
     FROM access_tokens a LEFT JOIN token_families f ON f.id = a.family_id \
     WHERE a.id = $1";

/// [`FIND_ACCESS_TOKEN`] and its user's `username`, last.
pub(crate) const FIND_ACCESS_TOKEN_WITH_USERNAME: &str =
    "SELECT a.id, a.family_id, a.client_id, a.user_id, a.scope, a.auth_time, \
     a.issued_at, a.expires_at, a.revoked, f.revoked_at, u.username \
     FROM access_tokens a JOIN users u ON u.id = a.user_id \
     LEFT JOIN token_families f ON f.id = a.family_id \
     WHERE a.id = $1";

/// A new token family: `id, client_id, user_id, auth_time, created_at, expires_at`.
const INSERT_FAMILY: &str =
    "INSERT INTO token_families (id, client_id, user_id, auth_time, created_at, \
     expires_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)";

/// A new refresh token: `token_hash, family_id, parent_hash, scope, created_at,
/// idle_expires_at`.
const INSERT_REFRESH: &str =
    "INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, scope, \
     created_at, idle_expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)";

/// A new access token: `id, family_id, client_id, user_id, scope, auth_time, issued_at,
/// expires_at, revoked`.
const INSERT_ACCESS: &str = "INSERT INTO access_tokens (id, family_id, client_id, user_id, scope, \
     auth_time, issued_at, expires_at, revoked) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// An audit event: `id, at, kind, client_id, username, ip, request_id, detail`.
const INSERT_EVENT: &str =
    "INSERT INTO events (id, at, kind, client_id, username, ip, request_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The insert of a new token family.
pub(crate) fn family(f: &TokenFamily) -> Insert<'_, 6> {
    Insert {
        sql: INSERT_FAMILY,
        params: [
            (&f.id).into(),
            (&f.client_id).into(),
            (&f.user_id).into(),
            f.auth_time.into(),
            f.created_at.into(),
            f.expires_at.into(),
        ],
    }
}

/// The insert of a new refresh token.
pub(crate) fn refresh(r: &RefreshTokenRecord) -> Insert<'_, 6> {
    Insert {
        sql: INSERT_REFRESH,
        params: [
            (&r.token_hash).into(),
            (&r.family_id).into(),
            r.parent_hash.as_deref().into(),
            (&r.scope).into(),
            r.created_at.into(),
            r.idle_expires_at.into(),
        ],
    }
}

/// The insert of a new access token.
pub(crate) fn access(a: &AccessTokenRecord) -> Insert<'_, 9> {
    Insert {
        sql: INSERT_ACCESS,
        params: [
            (&a.id).into(),
            a.family_id.as_deref().into(),
            (&a.client_id).into(),
            (&a.user_id).into(),
            (&a.scope).into(),
            a.auth_time.into(),
            a.issued_at.into(),
            a.expires_at.into(),
            a.revoked.into(),
        ],
    }
}

/// The insert of an audit event, whose `detail` is passed serialized.
pub(crate) fn event<'a>(e: &'a Event, detail: &'a str) -> Insert<'a, 8> {
    Insert {
        sql: INSERT_EVENT,
        params: [
            (&e.id).into(),
            e.at.into(),
            (&e.kind).into(),
            e.client_id.as_deref().into(),
            e.user.as_deref().into(),
            e.ip.as_deref().into(),
            e.request_id.as_deref().into(),
            detail.into(),
        ],
    }
}
