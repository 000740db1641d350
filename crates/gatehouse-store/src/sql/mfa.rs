//! [`MfaStore`] on SQL: `mfa_authenticators`, `mfa_tokens` and `mfa_failures`. Races are settled
//! in the database: enrolment is an upsert that leaves an active factor alone, a TOTP step is
//! accepted by a conditional `UPDATE` (`last_step < $step`), a recovery code is replaced only
//! while it is still the stored one, an `mfa_token` is consumed once, and the bucket of wrong
//! codes takes a code in one upsert that also checks for room.

use async_trait::async_trait;
use gatehouse_core::store::{Authenticator, MfaStore, MfaTokenRecord, StoreError};

use super::{execute, fetch_all, fetch_optional, rows, when_one_changes, HotPath, SqlStore};
use crate::backend::{Backend, Param};

/// Adds or replaces one factor of a user. With `ENROL_OTP_CONDITION` it replaces a pending TOTP
/// factor and skips an active one, so it changes no row exactly when the user is enrolled
/// already (and then nothing is changed). The recovery code stands in for TOTP, so without an
/// active TOTP factor `ENROL_RECOVERY` replaces it even when it was active (after an
/// administrator removed TOTP alone).
const ENROL_RECOVERY: &str = "INSERT INTO mfa_authenticators (id, user_id, kind, \
     secret_sealed, code_hash, active, last_step, created_at) \
     VALUES ($1, $2, $3, $4, $5, FALSE, 0, $6) \
     ON CONFLICT (user_id, kind) DO UPDATE SET id = excluded.id, \
     secret_sealed = excluded.secret_sealed, code_hash = excluded.code_hash, \
     active = FALSE, last_step = 0, created_at = excluded.created_at";
const ENROL_OTP_CONDITION: &str = " WHERE mfa_authenticators.active = FALSE";

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> MfaStore for SqlStore<DB, H> {
    async fn mfa_authenticators(&self, user_id: &str) -> Result<Vec<Authenticator>, StoreError> {
        let sql = "SELECT id, user_id, kind, secret_sealed, code_hash, active, last_step, \
                   created_at FROM mfa_authenticators WHERE user_id = $1 ORDER BY kind";
        fetch_all(
            &self.pool,
            sql,
            &[user_id.into()],
            rows::authenticator::<DB>,
        )
        .await
    }

    async fn enrol_mfa(
        &self,
        otp: &Authenticator,
        recovery: &Authenticator,
    ) -> Result<bool, StoreError> {
        let enrol_otp = [ENROL_RECOVERY, ENROL_OTP_CONDITION].concat();
        let otp = authenticator_params(otp);
        let recovery = authenticator_params(recovery);
        let recovery = (ENROL_RECOVERY, &recovery[..]);
        when_one_changes(&self.pool, (&enrol_otp, &otp), recovery).await
    }

    async fn accept_totp_step(
        &self,
        user_id: &str,
        id: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let accept = "UPDATE mfa_authenticators SET last_step = $3, active = TRUE \
                      WHERE user_id = $1 AND id = $2 AND kind = 'otp' AND last_step < $3";
        let activate = "UPDATE mfa_authenticators SET active = TRUE \
                        WHERE user_id = $1 AND kind = 'recovery-code' AND active = FALSE";
        let params = [user_id.into(), id.into(), step.into()];
        when_one_changes(&self.pool, (accept, &params), (activate, &params[..1])).await
    }

    async fn rotate_recovery_code(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE mfa_authenticators SET code_hash = $3 WHERE user_id = $1 \
                   AND kind = 'recovery-code' AND active = TRUE AND code_hash = $2";
        let params = [user_id.into(), old_hash.into(), new_hash.into()];
        Ok(execute(&self.pool, sql, &params).await? == 1)
    }

    async fn delete_mfa_authenticator(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM mfa_authenticators WHERE user_id = $1 AND id = $2";
        Ok(execute(&self.pool, sql, &[user_id.into(), id.into()]).await? == 1)
    }

    async fn insert_mfa_token(&self, t: &MfaTokenRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO mfa_tokens (token_hash, user_id, client_id, scope, created_at, \
                   expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let params = [
            (&t.token_hash).into(),
            (&t.user_id).into(),
            (&t.client_id).into(),
            (&t.scope).into(),
            t.created_at.into(),
            t.expires_at.into(),
            t.used_at.into(),
        ];
        execute(&self.pool, sql, &params).await.map(drop)
    }

    async fn find_mfa_token(&self, token_hash: &str) -> Result<Option<MfaTokenRecord>, StoreError> {
        let sql = "SELECT token_hash, user_id, client_id, scope, created_at, expires_at, \
                   used_at FROM mfa_tokens WHERE token_hash = $1";
        fetch_optional(&self.pool, sql, &[token_hash.into()], rows::mfa_token::<DB>).await
    }

    async fn consume_mfa_token(&self, token_hash: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE mfa_tokens SET used_at = $2 WHERE token_hash = $1 \
                   AND used_at IS NULL AND expires_at > $2";
        Ok(execute(&self.pool, sql, &[token_hash.into(), now.into()]).await? == 1)
    }

    async fn mfa_drained_at(&self, user_id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT drained_at FROM mfa_failures WHERE user_id = $1";
        let params = [user_id.into()];
        let drained = fetch_optional(&self.pool, sql, &params, rows::drained_at::<DB>).await?;
        Ok(drained.unwrap_or(0))
    }

    async fn reserve_mfa_attempt(
        &self,
        user_id: &str,
        now: i64,
        interval: i64,
        room: i64,
    ) -> Result<Option<i64>, StoreError> {
        // As `reserve_source_attempt`: the upsert's WHERE makes the check and the take one
        // atomic step (PostgreSQL re-evaluates it on the locked row; SQLite has one writer).
        let sql = "INSERT INTO mfa_failures (user_id, drained_at) VALUES ($1, $2 + $3) \
                   ON CONFLICT (user_id) DO UPDATE SET drained_at = CASE \
                   WHEN mfa_failures.drained_at > $2 THEN mfa_failures.drained_at \
                   ELSE $2 END + $3 \
                   WHERE mfa_failures.drained_at - $2 <= $4 RETURNING drained_at";
        let params = [user_id.into(), now.into(), interval.into(), room.into()];
        fetch_optional(&self.pool, sql, &params, rows::drained_at::<DB>).await
    }

    async fn refund_mfa_attempt(&self, user_id: &str, interval: i64) -> Result<(), StoreError> {
        let sql = "UPDATE mfa_failures SET drained_at = drained_at - $2 WHERE user_id = $1";
        let params = [user_id.into(), interval.into()];
        execute(&self.pool, sql, &params).await.map(drop)
    }
}

/// The values of `ENROL_RECOVERY`'s placeholders for `a`.
fn authenticator_params(a: &Authenticator) -> [Param<'_>; 6] {
    [
        (&a.id).into(),
        (&a.user_id).into(),
        a.kind.as_str().into(),
        a.secret_sealed.as_deref().into(),
        a.code_hash.as_deref().into(),
        a.created_at.into(),
    ]
}
