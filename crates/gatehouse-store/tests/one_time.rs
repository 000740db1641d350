//! The store's single-use records, with explicit times instead of sleeping: password codes
//! (good once, for their client, until they expire) and assertion `jti`s (RFC 7523 §3 item 7:
//! never twice while the assertion lives). Runs on SQLite, and also on PostgreSQL when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set; names are random so a shared database does no harm.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use gatehouse_core::client::ClientId;
use gatehouse_core::random;
use gatehouse_core::store::Store;
use gatehouse_store::testing::FreshDatabase;
use gatehouse_store::{PostgresStore, SqliteStore};

/// Every back end to test, with what must outlive them: the SQLite temp dir and the fresh
/// PostgreSQL database (its own, so migrations another build applied to the server's default
/// database cannot get in the way).
async fn stores() -> (
    Vec<Arc<dyn Store>>,
    (tempfile::TempDir, Option<FreshDatabase>),
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut stores: Vec<Arc<dyn Store>> = vec![Arc::new(SqliteStore::connect(&url).await.unwrap())];
    let mut fresh = None;
    if let Ok(server) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        let db = FreshDatabase::create(&server).await.unwrap();
        stores.push(Arc::new(PostgresStore::connect(db.url()).await.unwrap()));
        fresh = Some(db);
    }
    (stores, (dir, fresh))
}

fn fresh_client() -> ClientId {
    ClientId::parse(&format!("c-{}", random::id())).unwrap()
}

#[tokio::test]
async fn password_codes_are_single_use_client_bound_and_expire() {
    let (stores, _dir) = stores().await;
    for s in stores {
        let (a, b) = (fresh_client(), fresh_client());
        let (h1, h2) = (random::id(), random::id());
        s.insert_password_code(&h1, &a, 160, 100).await.unwrap();
        assert!(!s.consume_password_code(&h1, &b, 110).await.unwrap());
        assert!(s.consume_password_code(&h1, &a, 110).await.unwrap());
        assert!(!s.consume_password_code(&h1, &a, 111).await.unwrap());

        s.insert_password_code(&h2, &a, 160, 100).await.unwrap();
        assert!(
            !s.consume_password_code(&h2, &a, 160).await.unwrap(),
            "expired at 160"
        );
        assert!(!s
            .consume_password_code(&random::id(), &a, 110)
            .await
            .unwrap());
    }
}

#[tokio::test]
async fn assertion_jtis_are_accepted_once_while_they_live() {
    let (stores, _dir) = stores().await;
    for s in stores {
        let (a, b) = (fresh_client(), fresh_client());
        assert!(s.consume_assertion_jti(&a, "j", 200, 100).await.unwrap());
        assert!(!s.consume_assertion_jti(&a, "j", 200, 150).await.unwrap());
        // Another client's jti space is its own.
        assert!(s.consume_assertion_jti(&b, "j", 200, 150).await.unwrap());
        // Once the first record expired, the row is reclaimed (such an assertion fails `exp`
        // before it gets here anyway).
        assert!(s.consume_assertion_jti(&a, "j", 400, 300).await.unwrap());
    }
}

#[tokio::test]
async fn concurrent_jti_use_admits_exactly_one() {
    let (stores, _dir) = stores().await;
    for s in stores {
        let a = fresh_client();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (s, a) = (s.clone(), a.clone());
                // Expiring far beyond the other tests' clocks, so that their clean-up of expired
                // rows (on a shared PostgreSQL database) cannot remove this one mid-race.
                tokio::spawn(async move { s.consume_assertion_jti(&a, "race", 10_000, 100).await })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1);
    }
}
