//! The statements of the request hot path, written once for both back ends: PostgreSQL runs
//! them on its sqlx pool (`postgres.rs`), SQLite on its rusqlite connections (`sqlite/`). Each
//! names its `$n` placeholders in order, so SQLite numbers them as PostgreSQL does; the reads
//! list their columns in the order the SQLite readers take them by index, and each insert comes
//! with its values ([`Insert`]), so statement and bind order are written in one place.

use gatehouse_core::store::{AccessTokenRecord, Event, RefreshTokenRecord, TokenFamily};

use crate::backend::Param;

/// One write of the hot path (an insert, or a family's revocation): its statement and the values
/// of its placeholders, in order.
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

/// A user by id: `id, username, password_hash, email, phone, scopes, created_at, active,
/// session_epoch, password_changed_at, password_change_required, attributes, roles, store`.
pub(crate) const FIND_USER_BY_ID: &str =
    "SELECT id, username, password_hash, email, phone, scopes, created_at, active, \
     session_epoch, password_changed_at, password_change_required, attributes, roles, store \
     FROM users WHERE id = $1";

/// An account's lockout state by key: `failures, last_failure, locked_until, version`.
pub(crate) const LOGIN_ATTEMPTS: &str =
    "SELECT failures, last_failure, locked_until, version FROM login_attempts WHERE key = $1";

/// A refresh token by hash, with the columns of its family.
pub(crate) const FIND_REFRESH_TOKEN: &str =
    "SELECT r.token_hash, r.family_id, r.parent_hash, r.scope, r.created_at, \
     r.idle_expires_at, r.used_at, f.client_id, f.user_id, f.auth_time, \
     f.created_at AS family_created_at, f.expires_at, f.revoked_at, f.user_epoch, f.amr, \
     f.authenticator_id, f.scope AS family_scope, f.ip, f.user_agent \
     FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
     WHERE r.token_hash = $1";

/// An access token by id, with what decides whether its session still lives: its family's
/// `family_found`, `revoked_at` and `user_epoch`, and its user's `user_found`, `active` and
/// `session_epoch` (see `rows::access_token_revoked`), then the user's `username`, `attributes`
/// and `roles` (what introspection tells of the user).
pub(crate) const FIND_ACCESS_TOKEN: &str =
    "SELECT a.id, a.family_id, a.client_id, a.user_id, a.scope, a.auth_time, \
     a.issued_at, a.expires_at, a.revoked, f.revoked_at, \
     (f.id IS NOT NULL) AS family_found, COALESCE(f.user_epoch, 0) AS user_epoch, \
     (u.id IS NOT NULL) AS user_found, COALESCE(u.active, FALSE) AS active, \
     COALESCE(u.session_epoch, 0) AS session_epoch, COALESCE(f.amr, '') AS amr, u.username, \
     COALESCE(u.attributes, '{}') AS attributes, COALESCE(u.roles, '[]') AS roles \
     FROM access_tokens a LEFT JOIN token_families f ON f.id = a.family_id \
     LEFT JOIN users u ON u.id = a.user_id \
     WHERE a.id = $1";

/// A new token family, stored only while its client exists, its user exists, is active and has
/// the family's epoch, and its second factor (if any) exists: `id, client_id, user_id,
/// auth_time, created_at, expires_at, user_epoch, amr, authenticator_id, scope, ip, user_agent`.
const INSERT_FAMILY: &str =
    "INSERT INTO token_families (id, client_id, user_id, auth_time, created_at, \
     expires_at, last_used_at, revoked_at, user_epoch, amr, authenticator_id, scope, ip, \
     user_agent) \
     SELECT $1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, $9, $10, $11, $12 \
     WHERE EXISTS (SELECT 1 FROM clients WHERE id = $2) \
     AND EXISTS (SELECT 1 FROM users WHERE id = $3 AND active AND session_epoch = $7) \
     AND ($9 IS NULL OR EXISTS (SELECT 1 FROM mfa_authenticators WHERE id = $9))";

/// The condition, on `token_families f` joined with `users u`, of a live session at `$1`:
/// unrevoked, unexpired, of its user's current epoch, its user active, and (when it has refresh
/// tokens) one of them unused and not idle-expired.
pub(crate) const LIVE_SESSION: &str = "f.revoked_at IS NULL AND f.expires_at > $1 \
     AND f.user_epoch = u.session_epoch AND u.active \
     AND (NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = f.id) \
          OR EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = f.id \
                     AND r.used_at IS NULL AND r.idle_expires_at > $1))";

/// The live sessions of user `$2` with client `$3` at `$1`, oldest first (the session limit).
pub(crate) const LIVE_SESSIONS_OF_LOGIN: &str =
    "SELECT f.id FROM token_families f JOIN users u ON u.id = f.user_id \
     WHERE f.expires_at > $1 AND f.user_id = $2 AND f.client_id = $3 AND f.revoked_at IS NULL \
     AND f.user_epoch = u.session_epoch AND u.active \
     AND (NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = f.id) \
          OR EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = f.id \
                     AND r.used_at IS NULL AND r.idle_expires_at > $1)) \
     ORDER BY f.created_at, f.id";

/// Revokes a family at a time, unless it already is: `revoked_at, id`. (`$1` comes first in
/// the text: rusqlite binds `$n` by the order of first appearance, see the module's comment.)
const REVOKE_FAMILY: &str =
    "UPDATE token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";

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

/// A new client token (the client credentials grant): no family, no user (`user_id` empty),
/// stored only while its client exists: `id, client_id, scope, auth_time, issued_at,
/// expires_at, revoked`.
const INSERT_CLIENT_TOKEN: &str =
    "INSERT INTO access_tokens (id, family_id, client_id, user_id, scope, \
     auth_time, issued_at, expires_at, revoked) \
     SELECT $1, NULL, $2, '', $3, $4, $5, $6, $7 \
     WHERE EXISTS (SELECT 1 FROM clients WHERE id = $2)";

/// Removes the client tokens of client `$1` (with the client: a client re-created with the same
/// id inherits none). Served by the partial index `access_tokens_client_tokens` (migration 0011).
pub(crate) const DELETE_CLIENT_TOKENS: &str =
    "DELETE FROM access_tokens WHERE client_id = $1 AND family_id IS NULL AND user_id = ''";

/// An audit event: `id, at, kind, client_id, username, ip, request_id, detail`.
const INSERT_EVENT: &str =
    "INSERT INTO events (id, at, kind, client_id, username, ip, request_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The insert of a new token family, whose `amr` is passed space-delimited. It changes no row
/// when the family is stale (see [`INSERT_FAMILY`]).
pub(crate) fn family<'a>(f: &'a TokenFamily, amr: &'a str) -> Insert<'a, 12> {
    Insert {
        sql: INSERT_FAMILY,
        params: [
            (&f.id).into(),
            (&f.client_id).into(),
            (&f.user_id).into(),
            f.auth_time.into(),
            f.created_at.into(),
            f.expires_at.into(),
            f.user_epoch.into(),
            amr.into(),
            f.authenticator_id.as_deref().into(),
            (&f.scope).into(),
            f.ip.as_deref().into(),
            f.user_agent.as_deref().into(),
        ],
    }
}

/// The revocation of family `id` at `now` (see [`REVOKE_FAMILY`]).
pub(crate) fn revoke_family(id: &str, now: i64) -> Insert<'_, 2> {
    Insert {
        sql: REVOKE_FAMILY,
        params: [now.into(), id.into()],
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

/// The insert of a client token; it changes no row when the client is gone (see
/// [`INSERT_CLIENT_TOKEN`]). Its `family_id` and `user_id` are not read: a client token has
/// neither.
pub(crate) fn client_token(a: &AccessTokenRecord) -> Insert<'_, 7> {
    Insert {
        sql: INSERT_CLIENT_TOKEN,
        params: [
            (&a.id).into(),
            (&a.client_id).into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers of the `$n` placeholders of `sql`, each at its first appearance.
    fn first_appearances(sql: &str) -> Vec<usize> {
        let mut seen = Vec::new();
        for part in sql.split('$').skip(1) {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            let n: usize = digits.parse().unwrap();
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        seen
    }

    /// rusqlite binds the values of a `$n` statement by the order in which each placeholder
    /// first appears, not by `n` (sqlx reads `n`): a statement naming `$2` before `$1` would
    /// bind its values swapped on SQLite only (REVOKE_FAMILY did, and revoked nothing there).
    #[test]
    fn placeholders_first_appear_in_order() {
        for sql in [
            FIND_CLIENT,
            FIND_USER_BY_ID,
            FIND_REFRESH_TOKEN,
            FIND_ACCESS_TOKEN,
            INSERT_FAMILY,
            LIVE_SESSION,
            LIVE_SESSIONS_OF_LOGIN,
            REVOKE_FAMILY,
            INSERT_REFRESH,
            INSERT_ACCESS,
            INSERT_CLIENT_TOKEN,
            DELETE_CLIENT_TOKENS,
            INSERT_EVENT,
        ] {
            let seen = first_appearances(sql);
            assert_eq!(seen, (1..=seen.len()).collect::<Vec<_>>(), "{sql}");
        }
    }
}
