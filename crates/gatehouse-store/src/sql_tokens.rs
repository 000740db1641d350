//! The SQL of the token records (refresh-token families, refresh tokens, issued access tokens),
//! written once for SQLite and PostgreSQL like [`crate::sql`]. Rotation is one transaction whose
//! first statement is a conditional `UPDATE … WHERE used_at IS NULL`: the database's row lock
//! (PostgreSQL) or write lock (SQLite) lets exactly one of any number of concurrent rotations of
//! the same token match a row. The family row is then updated under the condition that it is not
//! revoked, which orders a rotation and a concurrent family revocation one way or the other.

macro_rules! impl_token_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            fn family_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<gatehouse_core::store::TokenFamily, sqlx::Error> {
                use sqlx::Row;
                Ok(gatehouse_core::store::TokenFamily {
                    id: row.try_get("family_id")?,
                    client_id: row.try_get("client_id")?,
                    user_id: row.try_get("user_id")?,
                    auth_time: row.try_get("auth_time")?,
                    created_at: row.try_get("family_created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            }

            fn refresh_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<gatehouse_core::store::RefreshTokenRecord, sqlx::Error> {
                use sqlx::Row;
                Ok(gatehouse_core::store::RefreshTokenRecord {
                    token_hash: row.try_get("token_hash")?,
                    family_id: row.try_get("family_id")?,
                    parent_hash: row.try_get("parent_hash")?,
                    scope: row.try_get("scope")?,
                    created_at: row.try_get("created_at")?,
                    idle_expires_at: row.try_get("idle_expires_at")?,
                    used_at: row.try_get("used_at")?,
                })
            }

            pub(crate) async fn insert_refresh<'c, E>(
                exec: E,
                r: &gatehouse_core::store::RefreshTokenRecord,
            ) -> Result<(), sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, scope, \
                     created_at, idle_expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                )
                .bind(&r.token_hash)
                .bind(&r.family_id)
                .bind(r.parent_hash.as_deref())
                .bind(&r.scope)
                .bind(r.created_at)
                .bind(r.idle_expires_at)
                .execute(exec)
                .await?;
                Ok(())
            }

            pub(crate) async fn insert_access<'c, E>(
                exec: E,
                a: &gatehouse_core::store::AccessTokenRecord,
            ) -> Result<(), sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(
                    "INSERT INTO access_tokens (id, family_id, client_id, user_id, scope, \
                     auth_time, issued_at, expires_at, revoked) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&a.id)
                .bind(a.family_id.as_deref())
                .bind(&a.client_id)
                .bind(&a.user_id)
                .bind(&a.scope)
                .bind(a.auth_time)
                .bind(a.issued_at)
                .bind(a.expires_at)
                .bind(a.revoked)
                .execute(exec)
                .await?;
                Ok(())
            }

            pub(crate) async fn insert_family<'c, E>(
                exec: E,
                family: &gatehouse_core::store::TokenFamily,
            ) -> Result<(), sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(
                    "INSERT INTO token_families (id, client_id, user_id, auth_time, created_at, \
                     expires_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
                )
                .bind(&family.id)
                .bind(&family.client_id)
                .bind(&family.user_id)
                .bind(family.auth_time)
                .bind(family.created_at)
                .bind(family.expires_at)
                .execute(exec)
                .await?;
                Ok(())
            }

            // SQLite writes through its group-commit writer (`sqlite/writer.rs`) instead.
            #[allow(dead_code)]
            async fn record_issued_tokens_sql(
                &self,
                family: Option<&gatehouse_core::store::TokenFamily>,
                refresh: Option<&gatehouse_core::store::RefreshTokenRecord>,
                access: &gatehouse_core::store::AccessTokenRecord,
            ) -> Result<(), sqlx::Error> {
                let Some(family) = family else {
                    return Self::insert_access(&self.pool, access).await;
                };
                let mut tx = self.pool.begin().await?;
                Self::insert_family(&mut *tx, family).await?;
                if let Some(refresh) = refresh {
                    Self::insert_refresh(&mut *tx, refresh).await?;
                }
                Self::insert_access(&mut *tx, access).await?;
                tx.commit().await
            }

            // SQLite reads these inline through rusqlite (`sqlite/direct.rs`) instead.
            #[allow(dead_code)]
            async fn find_refresh_token_sql(
                &self,
                token_hash: &str,
            ) -> Result<
                Option<(
                    gatehouse_core::store::RefreshTokenRecord,
                    gatehouse_core::store::TokenFamily,
                )>,
                sqlx::Error,
            > {
                let row = sqlx::query(
                    "SELECT r.token_hash, r.family_id, r.parent_hash, r.scope, r.created_at, \
                     r.idle_expires_at, r.used_at, f.client_id, f.user_id, f.auth_time, \
                     f.created_at AS family_created_at, f.expires_at, f.revoked_at \
                     FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
                     WHERE r.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| Ok((Self::refresh_from_row(&row)?, Self::family_from_row(&row)?)))
                    .transpose()
            }

            // SQLite writes through its group-commit writer (`sqlite/writer.rs`) instead.
            #[allow(dead_code)]
            async fn rotate_refresh_token_sql(
                &self,
                old_hash: &str,
                now: i64,
                successor: &gatehouse_core::store::RefreshTokenRecord,
                access: &gatehouse_core::store::AccessTokenRecord,
                event: Option<&gatehouse_core::audit::Event>,
            ) -> Result<bool, sqlx::Error> {
                use sqlx::Row;
                let mut tx = self.pool.begin().await?;
                let claimed = sqlx::query(
                    "UPDATE refresh_tokens SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL RETURNING family_id",
                )
                .bind(old_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(claimed) = claimed else {
                    tx.rollback().await?;
                    return Ok(false);
                };
                let family_id: String = claimed.try_get("family_id")?;
                let live = sqlx::query(
                    "UPDATE token_families SET last_used_at = $2 \
                     WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(&family_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if live.rows_affected() == 0 || family_id != successor.family_id {
                    tx.rollback().await?;
                    return Ok(false);
                }
                Self::insert_refresh(&mut *tx, successor).await?;
                Self::insert_access(&mut *tx, access).await?;
                if let Some(event) = event {
                    Self::insert_event_on(&mut *tx, event).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            // SQLite writes through its group-commit writer (`sqlite/writer.rs`) instead.
            #[allow(dead_code)]
            async fn revoke_token_family_sql(
                &self,
                family_id: &str,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                // The family's access tokens are revoked with it: every read of an access token
                // joins its family's `revoked_at` (migration 0009 dropped the per-row marking and
                // the index by family it needed).
                sqlx::query(
                    "UPDATE token_families SET revoked_at = $2 \
                     WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(family_id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map(drop)
            }

            // SQLite reads these inline through rusqlite (`sqlite/direct.rs`) instead.
            #[allow(dead_code)]
            async fn find_access_token_sql(
                &self,
                id: &str,
            ) -> Result<Option<gatehouse_core::store::AccessTokenRecord>, sqlx::Error> {
                let row = sqlx::query(
                    "SELECT a.id, a.family_id, a.client_id, a.user_id, a.scope, a.auth_time, \
                     a.issued_at, a.expires_at, a.revoked, f.revoked_at \
                     FROM access_tokens a LEFT JOIN token_families f ON f.id = a.family_id \
                     WHERE a.id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::access_from_row).transpose()
            }

            // SQLite reads these inline through rusqlite (`sqlite/direct.rs`) instead.
            #[allow(dead_code)]
            async fn find_access_token_with_username_sql(
                &self,
                id: &str,
            ) -> Result<Option<(gatehouse_core::store::AccessTokenRecord, String)>, sqlx::Error>
            {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT a.id, a.family_id, a.client_id, a.user_id, a.scope, a.auth_time, \
                     a.issued_at, a.expires_at, a.revoked, f.revoked_at, u.username \
                     FROM access_tokens a JOIN users u ON u.id = a.user_id \
                     LEFT JOIN token_families f ON f.id = a.family_id \
                     WHERE a.id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some((Self::access_from_row(&row)?, row.try_get("username")?)))
            }

            fn access_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<gatehouse_core::store::AccessTokenRecord, sqlx::Error> {
                use sqlx::Row;
                let revoked: bool = row.try_get("revoked")?;
                let family_revoked: Option<i64> = row.try_get("revoked_at")?;
                Ok(gatehouse_core::store::AccessTokenRecord {
                    id: row.try_get("id")?,
                    family_id: row.try_get("family_id")?,
                    client_id: row.try_get("client_id")?,
                    user_id: row.try_get("user_id")?,
                    scope: row.try_get("scope")?,
                    auth_time: row.try_get("auth_time")?,
                    issued_at: row.try_get("issued_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked: revoked || family_revoked.is_some(),
                })
            }

            // SQLite writes through its group-commit writer (`sqlite/writer.rs`) instead.
            #[allow(dead_code)]
            async fn revoke_access_token_sql(&self, id: &str) -> Result<(), sqlx::Error> {
                sqlx::query("UPDATE access_tokens SET revoked = TRUE WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_token_queries;
