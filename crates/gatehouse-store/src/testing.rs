//! Test support (feature `test-util`): a fresh PostgreSQL database per test, created through the
//! server named by `GATEHOUSE_TEST_POSTGRES_URL` and dropped again, and the visible notice
//! printed when that variable is absent.

use std::io::Write;
use std::sync::Once;

use gatehouse_core::store::StoreError;
use sqlx::{Connection, Executor, PgConnection};

/// The variable naming the PostgreSQL server the tests may use.
pub const POSTGRES_URL_VAR: &str = "GATEHOUSE_TEST_POSTGRES_URL";

/// The server URL from [`POSTGRES_URL_VAR`], or `None` after telling the person running the
/// tests, once per test binary, that `suite` did not run on PostgreSQL.
///
/// The notice goes straight to the process's standard error, past the test harness's output
/// capture (which only sees `print!`/`eprint!`), so it shows in plain `cargo test` output.
pub fn postgres_url(suite: &str) -> Option<String> {
    static NOTICE: Once = Once::new();
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED: {suite} on PostgreSQL: {POSTGRES_URL_VAR} is not set \
                     (e.g. postgres://postgres@127.0.0.1:5432/test; .ci/run sets it) ***\n"
                );
            });
            None
        }
    }
}

/// A database made for one test, dropped (with any connections left) when this is dropped,
/// also when the test panics.
#[derive(Debug)]
pub struct FreshDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    /// Creates `gh_test_<random>` on the server at `server_url`.
    pub async fn create(server_url: &str) -> Result<Self, StoreError> {
        let name = format!("gh_test_{}", gatehouse_core::random::id());
        let mut conn = PgConnection::connect(server_url)
            .await
            .map_err(crate::store_error)?;
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .map_err(crate::store_error)?;
        let _ = conn.close().await;
        Ok(FreshDatabase {
            url: with_database(server_url, &name),
            server_url: server_url.to_owned(),
            name,
        })
    }

    /// [`FreshDatabase::create`] for code that cannot await (it runs on its own thread, so it
    /// also works inside an async test).
    pub fn create_blocking(server_url: &str) -> Result<Self, StoreError> {
        let server_url = server_url.to_owned();
        on_own_runtime(move || async move { FreshDatabase::create(&server_url).await })
    }

    /// The new database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The new database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let result = on_own_runtime(move || async move {
            let mut conn = PgConnection::connect(&server_url)
                .await
                .map_err(crate::store_error)?;
            conn.execute(sql.as_str())
                .await
                .map_err(crate::store_error)?;
            let _ = conn.close().await;
            Ok(())
        });
        if let Err(err) = result {
            let _ = writeln!(
                std::io::stderr(),
                "cannot drop test database {}: {err}",
                self.name
            );
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Runs `f`'s future to completion on a new thread with its own runtime.
fn on_own_runtime<T, F, Fut>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        runtime.block_on(f())
    })
    .join()
    .map_err(|_| StoreError::Unavailable("test database thread panicked".into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
