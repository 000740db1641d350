//! The database behind a `TestServer`: a fresh SQLite file by default, or a fresh PostgreSQL
//! database when `GATEHOUSE_TEST_BACKEND=postgres` (on the server named by
//! `GATEHOUSE_TEST_POSTGRES_URL`). Servers may share one; it is removed when the last goes.

use std::sync::Arc;

use gatehouse_store::testing::{FreshDatabase, POSTGRES_URL_VAR};
use sqlx::Connection;

/// Selects the back end of every `TestServer` in this run.
pub const BACKEND_VAR: &str = "GATEHOUSE_TEST_BACKEND";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The back end this run uses, from `GATEHOUSE_TEST_BACKEND` (`sqlite` when unset).
    pub fn current() -> Backend {
        match std::env::var(BACKEND_VAR).as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
            Ok("postgres") => Backend::Postgres,
            Ok(other) => panic!("{BACKEND_VAR}={other:?}: expected sqlite or postgres"),
        }
    }
}

/// One test database; clone it to point another server at the same data.
#[derive(Clone)]
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    _owner: Arc<Owner>,
}

enum Owner {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] FreshDatabase),
}

impl TestDatabase {
    /// A new, empty database on the current back end (nothing is created until a server or the
    /// CLI opens it, which migrates it).
    pub fn fresh() -> TestDatabase {
        match Backend::current() {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
                TestDatabase {
                    url,
                    backend: Backend::Sqlite,
                    _owner: Arc::new(Owner::Sqlite(dir)),
                }
            }
            Backend::Postgres => {
                let server = std::env::var(POSTGRES_URL_VAR)
                    .unwrap_or_else(|_| panic!("{BACKEND_VAR}=postgres needs {POSTGRES_URL_VAR}"));
                let db = FreshDatabase::create_blocking(&server).unwrap();
                TestDatabase {
                    url: db.url().to_owned(),
                    backend: Backend::Postgres,
                    _owner: Arc::new(Owner::Postgres(db)),
                }
            }
        }
    }

    /// Every byte a reader of the database could see, as text: the SQLite file and its WAL, or
    /// every row of the PostgreSQL tables as text.
    pub async fn dump(&self) -> String {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap();
                let mut bytes = std::fs::read(path).unwrap();
                if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                    bytes.extend(wal);
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                let mut text = String::new();
                for table in [
                    "clients",
                    "users",
                    "signing_keys",
                    "token_families",
                    "refresh_tokens",
                    "access_tokens",
                    "assertion_jtis",
                    "password_codes",
                ] {
                    let sql =
                        format!("SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t");
                    let rows: String = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
                    text.push_str(&rows);
                }
                text
            }
        }
    }

    /// Runs one statement that changes rows (a test ageing a record, say).
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
        }
    }

    /// The single integer `sql` selects.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
        }
    }
}
