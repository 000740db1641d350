//! The SQL of [`MfaStore`](gatehouse_core::mfa::MfaStore), written once for SQLite and
//! PostgreSQL like [`crate::sql`]. Races are settled in the database: enrolment is an upsert
//! that leaves an active factor alone, a TOTP step is accepted by a conditional `UPDATE`
//! (`last_step < $step`), a recovery code is replaced only while it is still the stored one, an
//! `mfa_token` is consumed once, and the bucket of wrong codes grows in one upsert.

macro_rules! impl_mfa_store {
    ($store:ty, $db:ty) => {
        impl $store {
            fn authenticator_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<gatehouse_core::mfa::Authenticator, sqlx::Error> {
                use sqlx::Row;
                let kind: String = row.try_get("kind")?;
                Ok(gatehouse_core::mfa::Authenticator {
                    id: row.try_get("id")?,
                    user_id: row.try_get("user_id")?,
                    kind: gatehouse_core::mfa::AuthenticatorKind::parse(&kind).ok_or_else(
                        || sqlx::Error::Decode(format!("unknown authenticator kind {kind:?}").into()),
                    )?,
                    secret_sealed: row.try_get("secret_sealed")?,
                    code_hash: row.try_get("code_hash")?,
                    active: row.try_get("active")?,
                    last_step: row.try_get("last_step")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            async fn enrol_mfa_sql(
                &self,
                otp: &gatehouse_core::mfa::Authenticator,
                recovery: &gatehouse_core::mfa::Authenticator,
            ) -> Result<bool, sqlx::Error> {
                // The conflict clause replaces a pending factor and skips an active one, so the
                // upsert returns no row exactly when the user is enrolled already.
                const UPSERT: &str = "INSERT INTO mfa_authenticators (id, user_id, kind, \
                     secret_sealed, code_hash, active, last_step, created_at) \
                     VALUES ($1, $2, $3, $4, $5, FALSE, 0, $6) \
                     ON CONFLICT (user_id, kind) DO UPDATE SET id = excluded.id, \
                     secret_sealed = excluded.secret_sealed, code_hash = excluded.code_hash, \
                     active = FALSE, last_step = 0, created_at = excluded.created_at \
                     WHERE mfa_authenticators.active = FALSE RETURNING id";
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query(UPSERT)
                    .bind(&otp.id)
                    .bind(&otp.user_id)
                    .bind(otp.kind.as_str())
                    .bind(otp.secret_sealed.as_deref())
                    .bind(otp.code_hash.as_deref())
                    .bind(otp.created_at)
                    .fetch_optional(&mut *tx)
                    .await?;
                if row.is_none() {
                    tx.rollback().await?;
                    return Ok(false);
                }
                // The recovery code stands in for TOTP: without an active TOTP factor it is
                // replaced even when it was active (after an administrator removed TOTP alone).
                sqlx::query(
                    "INSERT INTO mfa_authenticators (id, user_id, kind, secret_sealed, \
                     code_hash, active, last_step, created_at) \
                     VALUES ($1, $2, $3, $4, $5, FALSE, 0, $6) \
                     ON CONFLICT (user_id, kind) DO UPDATE SET id = excluded.id, \
                     secret_sealed = excluded.secret_sealed, code_hash = excluded.code_hash, \
                     active = FALSE, last_step = 0, created_at = excluded.created_at",
                )
                .bind(&recovery.id)
                .bind(&recovery.user_id)
                .bind(recovery.kind.as_str())
                .bind(recovery.secret_sealed.as_deref())
                .bind(recovery.code_hash.as_deref())
                .bind(recovery.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn accept_totp_step_sql(
                &self,
                user_id: &str,
                id: &str,
                step: i64,
            ) -> Result<bool, sqlx::Error> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE mfa_authenticators SET last_step = $3, active = TRUE \
                     WHERE user_id = $1 AND id = $2 AND kind = 'otp' AND last_step < $3",
                )
                .bind(user_id)
                .bind(id)
                .bind(step)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE mfa_authenticators SET active = TRUE \
                     WHERE user_id = $1 AND kind = 'recovery-code' AND active = FALSE",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }
        }

        #[async_trait::async_trait]
        impl gatehouse_core::mfa::MfaStore for $store {
            async fn mfa_authenticators(
                &self,
                user_id: &str,
            ) -> Result<Vec<gatehouse_core::mfa::Authenticator>, gatehouse_core::store::StoreError>
            {
                let rows = sqlx::query(
                    "SELECT id, user_id, kind, secret_sealed, code_hash, active, last_step, \
                     created_at FROM mfa_authenticators WHERE user_id = $1 ORDER BY kind",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store_error)?;
                rows.iter()
                    .map(|row| Self::authenticator_from_row(row).map_err($crate::store_error))
                    .collect()
            }

            async fn enrol_mfa(
                &self,
                otp: &gatehouse_core::mfa::Authenticator,
                recovery: &gatehouse_core::mfa::Authenticator,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                self.enrol_mfa_sql(otp, recovery)
                    .await
                    .map_err($crate::store_error)
            }

            async fn accept_totp_step(
                &self,
                user_id: &str,
                id: &str,
                step: i64,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                self.accept_totp_step_sql(user_id, id, step)
                    .await
                    .map_err($crate::store_error)
            }

            async fn rotate_recovery_code(
                &self,
                user_id: &str,
                old_hash: &str,
                new_hash: &str,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE mfa_authenticators SET code_hash = $3 WHERE user_id = $1 \
                     AND kind = 'recovery-code' AND active = TRUE AND code_hash = $2",
                )
                .bind(user_id)
                .bind(old_hash)
                .bind(new_hash)
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_mfa_authenticator(
                &self,
                user_id: &str,
                id: &str,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                let done =
                    sqlx::query("DELETE FROM mfa_authenticators WHERE user_id = $1 AND id = $2")
                        .bind(user_id)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err($crate::store_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_mfa_token(
                &self,
                t: &gatehouse_core::mfa::MfaTokenRecord,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                sqlx::query(
                    "INSERT INTO mfa_tokens (token_hash, user_id, client_id, scope, created_at, \
                     expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&t.token_hash)
                .bind(&t.user_id)
                .bind(&t.client_id)
                .bind(&t.scope)
                .bind(t.created_at)
                .bind(t.expires_at)
                .bind(t.used_at)
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(())
            }

            async fn find_mfa_token(
                &self,
                token_hash: &str,
            ) -> Result<Option<gatehouse_core::mfa::MfaTokenRecord>, gatehouse_core::store::StoreError>
            {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT token_hash, user_id, client_id, scope, created_at, expires_at, \
                     used_at FROM mfa_tokens WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store_error)?;
                let Some(row) = row else { return Ok(None) };
                let e = $crate::store_error;
                Ok(Some(gatehouse_core::mfa::MfaTokenRecord {
                    token_hash: row.try_get("token_hash").map_err(e)?,
                    user_id: row.try_get("user_id").map_err(e)?,
                    client_id: row.try_get("client_id").map_err(e)?,
                    scope: row.try_get("scope").map_err(e)?,
                    created_at: row.try_get("created_at").map_err(e)?,
                    expires_at: row.try_get("expires_at").map_err(e)?,
                    used_at: row.try_get("used_at").map_err(e)?,
                }))
            }

            async fn consume_mfa_token(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE mfa_tokens SET used_at = $2 WHERE token_hash = $1 \
                     AND used_at IS NULL AND expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn mfa_drained_at(
                &self,
                user_id: &str,
            ) -> Result<i64, gatehouse_core::store::StoreError> {
                let drained: Option<i64> =
                    sqlx::query_scalar("SELECT drained_at FROM mfa_failures WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::store_error)?;
                Ok(drained.unwrap_or(0))
            }

            async fn add_mfa_failure(
                &self,
                user_id: &str,
                now: i64,
                interval: i64,
            ) -> Result<i64, gatehouse_core::store::StoreError> {
                sqlx::query_scalar(
                    "INSERT INTO mfa_failures (user_id, drained_at) VALUES ($1, $2 + $3) \
                     ON CONFLICT (user_id) DO UPDATE SET drained_at = CASE \
                     WHEN mfa_failures.drained_at > $2 THEN mfa_failures.drained_at \
                     ELSE $2 END + $3 RETURNING drained_at",
                )
                .bind(user_id)
                .bind(now)
                .bind(interval)
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store_error)
            }
        }
    };
}

pub(crate) use impl_mfa_store;
