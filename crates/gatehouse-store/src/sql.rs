//! The SQL of every [`Store`](gatehouse_core::store::Store) method, written once: SQLite and
//! PostgreSQL both accept `$n` placeholders, `ON CONFLICT` and `RETURNING`, so one macro
//! implements the trait for both back ends. Only connection set-up and migrations differ.

macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        impl $store {
            // SQLite reads these inline through rusqlite (`sqlite/direct.rs`) instead.
            #[allow(dead_code)]
            async fn find_client_sql(
                &self,
                id: &gatehouse_core::client::ClientId,
            ) -> Result<Option<gatehouse_core::client::Client>, gatehouse_core::store::StoreError>
            {
                let row = sqlx::query(
                    "SELECT id, secret_hash, secret_sealed, settings FROM clients WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store_error)?;
                row.as_ref().map(Self::client_from_row).transpose()
            }

            #[allow(dead_code)]
            async fn find_user_by_id_sql(
                &self,
                id: &str,
            ) -> Result<Option<gatehouse_core::user::User>, gatehouse_core::store::StoreError> {
                let row = sqlx::query(
                    "SELECT id, username, password_hash, email, phone, scopes, created_at \
                     FROM users WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store_error)?;
                row.as_ref().map(Self::user_from_row).transpose()
            }

            fn client_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<gatehouse_core::client::Client, gatehouse_core::store::StoreError> {
                use sqlx::Row;
                let id: String = row.try_get("id").map_err($crate::store_error)?;
                let settings: String = row.try_get("settings").map_err($crate::store_error)?;
                Ok(gatehouse_core::client::Client {
                    id: gatehouse_core::client::ClientId::parse(&id)
                        .map_err(|e| gatehouse_core::store::StoreError::Unavailable(Box::new(e)))?,
                    secret_hash: row.try_get("secret_hash").map_err($crate::store_error)?,
                    secret_sealed: row.try_get("secret_sealed").map_err($crate::store_error)?,
                    settings: serde_json::from_str(&settings)
                        .map_err(|e| gatehouse_core::store::StoreError::Unavailable(Box::new(e)))?,
                })
            }

            fn user_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<gatehouse_core::user::User, gatehouse_core::store::StoreError> {
                use sqlx::Row;
                let e = $crate::store_error;
                let scopes: Option<String> = row.try_get("scopes").map_err(e)?;
                Ok(gatehouse_core::user::User {
                    id: row.try_get("id").map_err(e)?,
                    username: gatehouse_core::user::Username::from_trusted(
                        row.try_get("username").map_err(e)?,
                    ),
                    password_hash: row.try_get("password_hash").map_err(e)?,
                    email: row.try_get("email").map_err(e)?,
                    phone: row.try_get("phone").map_err(e)?,
                    scopes: scopes.map(|s| {
                        gatehouse_core::scope::ScopeSet::from_trusted(
                            s.split(' ').filter(|t| !t.is_empty()),
                        )
                    }),
                    created_at: row.try_get("created_at").map_err(e)?,
                })
            }
        }

        #[async_trait::async_trait]
        impl gatehouse_core::store::Store for $store {
            fn pool_stats(&self) -> gatehouse_core::store::PoolStats {
                gatehouse_core::store::PoolStats {
                    size: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                }
            }

            async fn ping(&self) -> Result<(), gatehouse_core::store::StoreError> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store_error)?;
                Ok(())
            }

            async fn find_client(
                &self,
                id: &gatehouse_core::client::ClientId,
            ) -> Result<Option<gatehouse_core::client::Client>, gatehouse_core::store::StoreError>
            {
                self.read_client(id).await
            }

            async fn list_clients(
                &self,
            ) -> Result<Vec<gatehouse_core::client::Client>, gatehouse_core::store::StoreError>
            {
                let rows = sqlx::query(
                    "SELECT id, secret_hash, secret_sealed, settings FROM clients ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store_error)?;
                rows.iter().map(Self::client_from_row).collect()
            }

            async fn insert_client(
                &self,
                client: &gatehouse_core::client::Client,
                now: i64,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                let settings = serde_json::to_string(&client.settings)
                    .map_err(|e| gatehouse_core::store::StoreError::Unavailable(Box::new(e)))?;
                sqlx::query(
                    "INSERT INTO clients (id, secret_hash, secret_sealed, settings, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(client.id.as_str())
                .bind(client.secret_hash.as_deref())
                .bind(client.secret_sealed.as_deref())
                .bind(settings)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(())
            }

            async fn delete_client(
                &self,
                id: &gatehouse_core::client::ClientId,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                let done = sqlx::query("DELETE FROM clients WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store_error)?;
                $crate::sql::one_row(done.rows_affected())
            }

            async fn find_user(
                &self,
                username: &gatehouse_core::user::Username,
            ) -> Result<Option<gatehouse_core::user::User>, gatehouse_core::store::StoreError> {
                let row = sqlx::query(
                    "SELECT id, username, password_hash, email, phone, scopes, created_at \
                     FROM users WHERE username = $1",
                )
                .bind(username.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store_error)?;
                row.as_ref().map(Self::user_from_row).transpose()
            }

            async fn list_users(
                &self,
            ) -> Result<Vec<gatehouse_core::user::User>, gatehouse_core::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT id, username, password_hash, email, phone, scopes, created_at \
                     FROM users ORDER BY username",
                )
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store_error)?;
                rows.iter().map(Self::user_from_row).collect()
            }

            async fn insert_user(
                &self,
                user: &gatehouse_core::user::User,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                sqlx::query(
                    "INSERT INTO users (id, username, password_hash, email, phone, scopes, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(&user.id)
                .bind(user.username.as_str())
                .bind(&user.password_hash)
                .bind(user.email.as_deref())
                .bind(user.phone.as_deref())
                .bind(user.scopes.as_ref().map(|s| s.to_string()))
                .bind(user.created_at)
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(())
            }

            async fn delete_user(
                &self,
                username: &gatehouse_core::user::Username,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                let done = sqlx::query("DELETE FROM users WHERE username = $1")
                    .bind(username.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store_error)?;
                $crate::sql::one_row(done.rows_affected())
            }

            async fn set_password_hash(
                &self,
                username: &gatehouse_core::user::Username,
                hash: &str,
                now: i64,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3",
                )
                .bind(hash)
                .bind(now)
                .bind(username.as_str())
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                $crate::sql::one_row(done.rows_affected())
            }

            async fn signing_keys(
                &self,
            ) -> Result<Vec<gatehouse_core::store::StoredKey>, gatehouse_core::store::StoreError>
            {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT kid, alg, private_der, created_at FROM signing_keys \
                     ORDER BY created_at, kid",
                )
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store_error)?;
                rows.iter()
                    .map(|row| {
                        let e = $crate::store_error;
                        Ok(gatehouse_core::store::StoredKey {
                            kid: row.try_get("kid").map_err(e)?,
                            alg: row.try_get("alg").map_err(e)?,
                            private_der: row.try_get("private_der").map_err(e)?,
                            created_at: row.try_get("created_at").map_err(e)?,
                        })
                    })
                    .collect()
            }

            async fn insert_signing_key(
                &self,
                key: &gatehouse_core::store::StoredKey,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, private_der, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.private_der)
                .bind(key.created_at)
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(())
            }

            async fn insert_next_signing_key(
                &self,
                key: &gatehouse_core::store::StoredKey,
                after: Option<&str>,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                // `after_kid` is UNIQUE (migration 0003): of two instances adding a successor to
                // the same key, one gets `Conflict`. '' marks the first key of an empty table.
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, private_der, created_at, after_kid) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.private_der)
                .bind(key.created_at)
                .bind(after.unwrap_or(""))
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(())
            }

            async fn update_client(
                &self,
                client: &gatehouse_core::client::Client,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                let settings = serde_json::to_string(&client.settings)
                    .map_err(|e| gatehouse_core::store::StoreError::Unavailable(Box::new(e)))?;
                let done = sqlx::query(
                    "UPDATE clients SET secret_hash = $1, settings = $2, secret_sealed = $4 \
                     WHERE id = $3",
                )
                .bind(client.secret_hash.as_deref())
                .bind(settings)
                .bind(client.id.as_str())
                .bind(client.secret_sealed.as_deref())
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                $crate::sql::one_row(done.rows_affected())
            }

            async fn update_user(
                &self,
                user: &gatehouse_core::user::User,
                now: i64,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $1, email = $2, phone = $3, scopes = $4, \
                     updated_at = $5 WHERE username = $6",
                )
                .bind(&user.password_hash)
                .bind(user.email.as_deref())
                .bind(user.phone.as_deref())
                .bind(user.scopes.as_ref().map(|s| s.to_string()))
                .bind(now)
                .bind(user.username.as_str())
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                $crate::sql::one_row(done.rows_affected())
            }

            async fn consume_assertion_jti(
                &self,
                client_id: &gatehouse_core::client::ClientId,
                jti: &str,
                expires_at: i64,
                now: i64,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                sqlx::query("DELETE FROM assertion_jtis WHERE expires_at < $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store_error)?;
                // A row that is still live makes the conflict clause skip the update, so nothing
                // is returned: that is the replay. An expired leftover is taken over.
                let row = sqlx::query(
                    "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
                     WHERE assertion_jtis.expires_at < $4 RETURNING jti",
                )
                .bind(client_id.as_str())
                .bind(jti)
                .bind(expires_at)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(row.is_some())
            }

            async fn insert_password_code(
                &self,
                code_hash: &str,
                client_id: &gatehouse_core::client::ClientId,
                expires_at: i64,
                now: i64,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                sqlx::query("DELETE FROM password_codes WHERE expires_at < $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store_error)?;
                sqlx::query(
                    "INSERT INTO password_codes (code_hash, client_id, expires_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(code_hash)
                .bind(client_id.as_str())
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(())
            }

            async fn delete_expired(
                &self,
                now: i64,
                batch_size: u32,
            ) -> Result<u64, gatehouse_core::store::StoreError> {
                // One batched DELETE per table that expires, each bounded by `batch_size`
                // (`DELETE … WHERE key IN (SELECT … LIMIT $2)`, which both databases accept).
                // A refresh-token family goes only when its absolute lifetime is over, taking its
                // refresh tokens with it, so a rotated token is remembered (and its reuse
                // detected) for as long as the family could live. Access tokens go when they
                // expire: an expired token is inactive whether or not its row is there.
                // An expired mfa_token is kept an hour longer, so that its client is told
                // `expired_token` rather than that it never existed.
                const STATEMENTS: [&str; 7] = [
                    "DELETE FROM token_families WHERE id IN \
                     (SELECT id FROM token_families WHERE expires_at < $1 LIMIT $2)",
                    "DELETE FROM access_tokens WHERE id IN \
                     (SELECT id FROM access_tokens WHERE expires_at < $1 LIMIT $2)",
                    "DELETE FROM password_codes WHERE code_hash IN \
                     (SELECT code_hash FROM password_codes WHERE expires_at < $1 LIMIT $2)",
                    "DELETE FROM assertion_jtis WHERE (client_id, jti) IN \
                     (SELECT client_id, jti FROM assertion_jtis WHERE expires_at < $1 LIMIT $2)",
                    "DELETE FROM source_failures WHERE ip IN \
                     (SELECT ip FROM source_failures WHERE drained_at < $1 LIMIT $2)",
                    "DELETE FROM mfa_tokens WHERE token_hash IN \
                     (SELECT token_hash FROM mfa_tokens WHERE expires_at + 3600 < $1 LIMIT $2)",
                    "DELETE FROM mfa_failures WHERE user_id IN \
                     (SELECT user_id FROM mfa_failures WHERE drained_at < $1 LIMIT $2)",
                ];
                let mut deleted = 0;
                for sql in STATEMENTS {
                    let done = sqlx::query(sql)
                        .bind(now)
                        .bind(i64::from(batch_size))
                        .execute(&self.pool)
                        .await
                        .map_err($crate::store_error)?;
                    deleted += done.rows_affected();
                }
                Ok(deleted)
            }

            async fn consume_password_code(
                &self,
                code_hash: &str,
                client_id: &gatehouse_core::client::ClientId,
                now: i64,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                let row = sqlx::query(
                    "UPDATE password_codes SET used_at = $3 WHERE code_hash = $1 \
                     AND client_id = $2 AND used_at IS NULL AND expires_at > $3 RETURNING code_hash",
                )
                .bind(code_hash)
                .bind(client_id.as_str())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store_error)?;
                Ok(row.is_some())
            }

            async fn find_user_by_id(
                &self,
                id: &str,
            ) -> Result<Option<gatehouse_core::user::User>, gatehouse_core::store::StoreError> {
                self.read_user_by_id(id).await
            }

            async fn record_issued_tokens(
                &self,
                family: Option<&gatehouse_core::store::TokenFamily>,
                refresh: Option<&gatehouse_core::store::RefreshTokenRecord>,
                access: &gatehouse_core::store::AccessTokenRecord,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                self.write_issued_tokens(family, refresh, access).await
            }

            async fn find_refresh_token(
                &self,
                token_hash: &str,
            ) -> Result<
                Option<(
                    gatehouse_core::store::RefreshTokenRecord,
                    gatehouse_core::store::TokenFamily,
                )>,
                gatehouse_core::store::StoreError,
            > {
                self.read_refresh_token(token_hash).await
            }

            async fn rotate_refresh_token(
                &self,
                old_hash: &str,
                now: i64,
                successor: &gatehouse_core::store::RefreshTokenRecord,
                access: &gatehouse_core::store::AccessTokenRecord,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                self.write_rotation(old_hash, now, successor, access, None)
                    .await
            }

            async fn rotate_refresh_token_recorded(
                &self,
                old_hash: &str,
                now: i64,
                successor: &gatehouse_core::store::RefreshTokenRecord,
                access: &gatehouse_core::store::AccessTokenRecord,
                event: &gatehouse_core::audit::Event,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                self.write_rotation(old_hash, now, successor, access, Some(event))
                    .await
            }

            async fn revoke_token_family(
                &self,
                family_id: &str,
                now: i64,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                self.write_family_revocation(family_id, now).await
            }

            async fn find_access_token(
                &self,
                id: &str,
            ) -> Result<
                Option<gatehouse_core::store::AccessTokenRecord>,
                gatehouse_core::store::StoreError,
            > {
                self.read_access_token(id).await
            }

            async fn find_access_token_with_username(
                &self,
                id: &str,
            ) -> Result<
                Option<(gatehouse_core::store::AccessTokenRecord, String)>,
                gatehouse_core::store::StoreError,
            > {
                self.read_access_token_with_username(id).await
            }

            async fn revoke_access_token(
                &self,
                id: &str,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                self.write_access_revocation(id).await
            }

            async fn login_attempts(
                &self,
                key: &str,
            ) -> Result<gatehouse_core::lockout::AttemptState, gatehouse_core::store::StoreError>
            {
                self.login_attempts_sql(key).await.map_err($crate::store_error)
            }

            async fn swap_login_attempts(
                &self,
                key: &str,
                next: &gatehouse_core::lockout::AttemptState,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                self.swap_login_attempts_sql(key, next)
                    .await
                    .map_err($crate::store_error)
            }

            async fn clear_login_attempts(
                &self,
                key: &str,
            ) -> Result<bool, gatehouse_core::store::StoreError> {
                self.clear_login_attempts_sql(key)
                    .await
                    .map_err($crate::store_error)
            }

            async fn source_drained_at(
                &self,
                ip: &str,
            ) -> Result<i64, gatehouse_core::store::StoreError> {
                self.source_drained_at_sql(ip)
                    .await
                    .map_err($crate::store_error)
            }

            async fn reserve_source_attempt(
                &self,
                ip: &str,
                now: i64,
                interval: i64,
                room: i64,
            ) -> Result<Option<i64>, gatehouse_core::store::StoreError> {
                self.reserve_source_attempt_sql(ip, now, interval, room)
                    .await
                    .map_err($crate::store_error)
            }

            async fn refund_source_attempt(
                &self,
                ip: &str,
                interval: i64,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                self.refund_source_attempt_sql(ip, interval)
                    .await
                    .map_err($crate::store_error)
            }

            async fn delete_forgotten_login_attempts(
                &self,
                forgotten_before: i64,
                now: i64,
                batch_size: u32,
            ) -> Result<u64, gatehouse_core::store::StoreError> {
                self.delete_forgotten_login_attempts_sql(forgotten_before, now, batch_size)
                    .await
                    .map_err($crate::store_error)
            }

            async fn insert_event(
                &self,
                event: &gatehouse_core::audit::Event,
            ) -> Result<(), gatehouse_core::store::StoreError> {
                self.write_event(event).await
            }

            async fn list_events(
                &self,
                filter: &gatehouse_core::audit::EventFilter,
            ) -> Result<Vec<gatehouse_core::audit::Event>, gatehouse_core::store::StoreError>
            {
                self.list_events_sql(filter)
                    .await
                    .map_err($crate::store_error)
            }

            async fn delete_events_before(
                &self,
                before: i64,
                batch_size: u32,
            ) -> Result<u64, gatehouse_core::store::StoreError> {
                self.delete_events_before_sql(before, batch_size)
                    .await
                    .map_err($crate::store_error)
            }
        }
    };
}

pub(crate) use impl_store;

/// `NotFound` unless exactly one row changed.
pub(crate) fn one_row(rows: u64) -> Result<(), gatehouse_core::store::StoreError> {
    if rows == 0 {
        Err(gatehouse_core::store::StoreError::NotFound)
    } else {
        Ok(())
    }
}
