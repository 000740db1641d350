//! The SQL of the brute-force defence and the audit trail, written once for SQLite and
//! PostgreSQL like [`crate::sql`]. Lockout state changes only by compare and swap on `version`
//! (an `INSERT … ON CONFLICT DO NOTHING` for the first attempt, a conditional `UPDATE` after),
//! so of concurrent attempts on one account exactly one swaps each version. An address's
//! bucket takes an attempt in one `INSERT … ON CONFLICT DO UPDATE … WHERE` that also checks
//! for room, so concurrent attempts cannot overrun it. The policy lives in the core.

macro_rules! impl_security_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn login_attempts_sql(
                &self,
                key: &str,
            ) -> Result<gatehouse_core::lockout::AttemptState, sqlx::Error> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT failures, last_failure, locked_until, version FROM login_attempts \
                     WHERE key = $1",
                )
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else {
                    return Ok(Default::default());
                };
                let failures: i64 = row.try_get("failures")?;
                Ok(gatehouse_core::lockout::AttemptState {
                    failures: u32::try_from(failures).unwrap_or(u32::MAX),
                    last_failure: row.try_get("last_failure")?,
                    locked_until: row.try_get("locked_until")?,
                    version: row.try_get("version")?,
                })
            }

            async fn swap_login_attempts_sql(
                &self,
                key: &str,
                next: &gatehouse_core::lockout::AttemptState,
            ) -> Result<bool, sqlx::Error> {
                let sql = if next.version == 0 {
                    "INSERT INTO login_attempts (key, failures, last_failure, locked_until, \
                     version) VALUES ($1, $2, $3, $4, 1) ON CONFLICT (key) DO NOTHING"
                } else {
                    "UPDATE login_attempts SET failures = $2, last_failure = $3, \
                     locked_until = $4, version = version + 1 WHERE key = $1 AND version = $5"
                };
                let mut query = sqlx::query(sql)
                    .bind(key)
                    .bind(i64::from(next.failures))
                    .bind(next.last_failure)
                    .bind(next.locked_until);
                if next.version != 0 {
                    query = query.bind(next.version);
                }
                Ok(query.execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn clear_login_attempts_sql(&self, key: &str) -> Result<bool, sqlx::Error> {
                let done = sqlx::query("DELETE FROM login_attempts WHERE key = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn source_drained_at_sql(&self, ip: &str) -> Result<i64, sqlx::Error> {
                let drained: Option<i64> =
                    sqlx::query_scalar("SELECT drained_at FROM source_failures WHERE ip = $1")
                        .bind(ip)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(drained.unwrap_or(0))
            }

            async fn reserve_source_attempt_sql(
                &self,
                ip: &str,
                now: i64,
                interval: i64,
                room: i64,
            ) -> Result<Option<i64>, sqlx::Error> {
                // The upsert's WHERE makes the check and the take one atomic step: PostgreSQL
                // locks the conflicting row and re-evaluates it; SQLite has a single writer.
                sqlx::query_scalar(
                    "INSERT INTO source_failures (ip, drained_at) VALUES ($1, $2 + $3) \
                     ON CONFLICT (ip) DO UPDATE SET drained_at = CASE \
                     WHEN source_failures.drained_at > $2 THEN source_failures.drained_at \
                     ELSE $2 END + $3 \
                     WHERE source_failures.drained_at - $2 <= $4 RETURNING drained_at",
                )
                .bind(ip)
                .bind(now)
                .bind(interval)
                .bind(room)
                .fetch_optional(&self.pool)
                .await
            }

            async fn refund_source_attempt_sql(
                &self,
                ip: &str,
                interval: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "UPDATE source_failures SET drained_at = drained_at - $2 WHERE ip = $1",
                )
                .bind(ip)
                .bind(interval)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_forgotten_login_attempts_sql(
                &self,
                forgotten_before: i64,
                now: i64,
                batch_size: u32,
            ) -> Result<u64, sqlx::Error> {
                let done = sqlx::query(
                    "DELETE FROM login_attempts WHERE key IN (SELECT key FROM login_attempts \
                     WHERE last_failure < $1 AND locked_until <= $2 LIMIT $3)",
                )
                .bind(forgotten_before)
                .bind(now)
                .bind(i64::from(batch_size))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            // SQLite writes through its group-commit writer (`sqlite/writer.rs`) instead.
            #[allow(dead_code)]
            async fn insert_event_sql(
                &self,
                e: &gatehouse_core::audit::Event,
            ) -> Result<(), sqlx::Error> {
                Self::insert_event_on(&self.pool, e).await
            }

            pub(crate) async fn insert_event_on<'c, E>(
                exec: E,
                e: &gatehouse_core::audit::Event,
            ) -> Result<(), sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(
                    "INSERT INTO events (id, at, kind, client_id, username, ip, request_id, \
                     detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&e.id)
                .bind(e.at)
                .bind(&e.kind)
                .bind(e.client_id.as_deref())
                .bind(e.user.as_deref())
                .bind(e.ip.as_deref())
                .bind(e.request_id.as_deref())
                .bind(e.detail.to_string())
                .execute(exec)
                .await?;
                Ok(())
            }

            async fn list_events_sql(
                &self,
                filter: &gatehouse_core::audit::EventFilter,
            ) -> Result<Vec<gatehouse_core::audit::Event>, sqlx::Error> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT id, at, kind, client_id, username, ip, request_id, detail \
                     FROM events WHERE ($1 IS NULL OR username = $1) AND at >= $2 \
                     ORDER BY seq DESC LIMIT $3",
                )
                .bind(filter.user.as_deref())
                .bind(filter.since.unwrap_or(i64::MIN))
                .bind(i64::from(filter.limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let detail: String = row.try_get("detail")?;
                        Ok(gatehouse_core::audit::Event {
                            id: row.try_get("id")?,
                            at: row.try_get("at")?,
                            kind: row.try_get("kind")?,
                            client_id: row.try_get("client_id")?,
                            user: row.try_get("username")?,
                            ip: row.try_get("ip")?,
                            request_id: row.try_get("request_id")?,
                            detail: serde_json::from_str(&detail)
                                .unwrap_or(serde_json::Value::String(detail)),
                        })
                    })
                    .collect()
            }

            async fn delete_events_before_sql(
                &self,
                before: i64,
                batch_size: u32,
            ) -> Result<u64, sqlx::Error> {
                let done = sqlx::query(
                    "DELETE FROM events WHERE seq IN \
                     (SELECT seq FROM events WHERE at < $1 LIMIT $2)",
                )
                .bind(before)
                .bind(i64::from(batch_size))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use impl_security_queries;
