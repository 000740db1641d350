//! The two migrations folders stay in step: the same files, and in each file the same tables,
//! indexes and alterations (only type names may differ between the databases, and PostgreSQL
//! alone switches a trigger off with `ALTER TABLE … DISABLE TRIGGER`, which changes no table,
//! and alone sends change notices, whose migration's SQLite twin changes nothing).

use std::collections::BTreeMap;

/// File name → the file's text, for one folder.
fn migrations(folder: &str) -> BTreeMap<String, String> {
    let dir = format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The schema objects a migration creates or changes, in order: `CREATE TABLE users`, ….
fn schema_statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    code.split(';')
        .filter_map(|statement| {
            let words: Vec<_> = statement.split_whitespace().collect();
            if words.iter().any(|w| w.eq_ignore_ascii_case("TRIGGER"))
                && words
                    .first()
                    .is_some_and(|w| w.eq_ignore_ascii_case("ALTER"))
            {
                return None;
            }
            let head = words
                .iter()
                .position(|w| w.eq_ignore_ascii_case("TABLE") || w.eq_ignore_ascii_case("INDEX"))?;
            let mut key = words[..=head].join(" ").to_uppercase();
            let name = words[head + 1..]
                .iter()
                .find(|w| !["IF", "NOT", "EXISTS"].contains(&w.to_uppercase().as_str()))?;
            key.push(' ');
            key.push_str(name);
            Some(key)
        })
        .collect()
}

#[test]
fn sqlite_and_postgres_migrations_are_in_step() {
    let sqlite = migrations("sqlite");
    let postgres = migrations("postgres");
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "migrations/sqlite and migrations/postgres must hold the same files"
    );
    for (name, sql) in &sqlite {
        let statements = schema_statements(sql);
        // A migration of PostgreSQL's triggers alone (0017's change notices) has an empty twin.
        let postgres_only = statements.is_empty()
            && schema_statements(&postgres[name]).is_empty()
            && postgres[name].contains("CREATE TRIGGER");
        assert!(
            !statements.is_empty() || postgres_only,
            "{name}: no schema statements found"
        );
        assert_eq!(
            statements,
            schema_statements(&postgres[name]),
            "{name} differs"
        );
    }
}

/// Rows of the token tables as a database at migration 0008 holds them: a family, its refresh
/// token and its access token, and an access token without a family (which no login records
/// since migration 0010: every login opens one) (the same statements on both databases).
const ROWS_AT_0008: [&str; 5] = [
    "INSERT INTO users (id, username, password_hash, created_at, updated_at) \
     VALUES ('u1', 'heidi', 'h', 1, 1)",
    "INSERT INTO token_families (id, client_id, user_id, auth_time, created_at, expires_at) \
     VALUES ('f1', 'app', 'u1', 1, 1, 4000000000)",
    "INSERT INTO refresh_tokens (token_hash, family_id, scope, created_at, idle_expires_at) \
     VALUES ('stored-hash', 'f1', 'openid', 1, 4000000000)",
    "INSERT INTO access_tokens (id, family_id, client_id, user_id, scope, auth_time, issued_at, \
     expires_at) VALUES ('jti-1', 'f1', 'app', 'u1', 'openid', 1, 1, 4000000000)",
    "INSERT INTO access_tokens (id, family_id, client_id, user_id, scope, auth_time, issued_at, \
     expires_at) VALUES ('jti-alone', NULL, 'app', 'u1', 'openid', 1, 1, 4000000000)",
];

/// The migrations up to and including `last`.
fn migrator_until(mut migrator: sqlx::migrate::Migrator, last: i64) -> sqlx::migrate::Migrator {
    let kept: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= last)
        .cloned()
        .collect();
    migrator.migrations = kept.into();
    migrator
}

/// Migrates `pool` up to 0008 only, writes [`ROWS_AT_0008`] and closes the pool.
async fn fill_at_0008<DB>(pool: &sqlx::Pool<DB>, migrator: sqlx::migrate::Migrator)
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    migrator_until(migrator, 8).run(pool).await.unwrap();
    for sql in ROWS_AT_0008 {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
    pool.close().await;
}

/// After the upgrade (0009 rebuilds the token tables, 0010 makes families sessions), tokens
/// issued before it are all there and behave: the refresh token is found with its family (of
/// the user's epoch, its scope taken from its refresh token), the access token reads live with
/// the family's default `amr`, and revoking the family revokes it but not the token without a
/// family.
async fn tokens_issued_before_0009_survive_it(store: &dyn gatehouse_core::store::Store) {
    let (refresh, family) = store
        .find_refresh_token("stored-hash")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (refresh.family_id.as_str(), family.id.as_str()),
        ("f1", "f1")
    );
    assert_eq!(refresh.used_at, None);
    assert_eq!((family.user_epoch, family.scope.as_str()), (0, "openid"));
    let access = store.find_access_token("jti-1").await.unwrap().unwrap();
    assert!(!access.revoked);
    assert_eq!(access.family_id.as_deref(), Some("f1"));
    assert_eq!(access.amr, ["pwd"]);
    let alone = store.find_access_token("jti-alone").await.unwrap().unwrap();
    assert!(!alone.revoked);
    assert_eq!(alone.family_id, None);
    store.revoke_token_family("f1", 10).await.unwrap();
    let revoked = |id: &'static str| async move {
        store.find_access_token(id).await.unwrap().unwrap().revoked
    };
    assert!(revoked("jti-1").await, "revoked through its family");
    assert!(!revoked("jti-alone").await, "no family, not revoked");
}

#[tokio::test]
async fn sqlite_upgrade_to_0009_keeps_every_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("upgrade.db").display());
    {
        use std::str::FromStr;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        fill_at_0008(&pool, sqlx::migrate!("./migrations/sqlite")).await;
    }
    let store = gatehouse_store::SqliteStore::connect(&url).await.unwrap();
    tokens_issued_before_0009_survive_it(&store).await;
}

#[tokio::test]
async fn postgres_upgrade_to_0009_keeps_every_token() {
    let Some(server) = gatehouse_store::testing::postgres_url("the 0009 upgrade test") else {
        return;
    };
    let db = gatehouse_store::testing::FreshDatabase::create(&server)
        .await
        .unwrap();
    {
        let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
        fill_at_0008(&pool, sqlx::migrate!("./migrations/postgres")).await;
    }
    let store = gatehouse_store::PostgresStore::connect(db.url())
        .await
        .unwrap();
    tokens_issued_before_0009_survive_it(&store).await;
}
