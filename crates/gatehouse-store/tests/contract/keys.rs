//! Signing keys (RFC 7517 key sets): oldest first, one successor per key so that instances
//! starting together agree on one, and the expiry sweep.

use std::sync::Arc;

use gatehouse_core::store::{Store, StoreError, StoredKey};

fn key(kid: &str, alg: &str, created_at: i64) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: alg.into(),
        private_der: vec![0x30, 0x82, 0x00, 0xff, kid.len() as u8],
        created_at,
        serves_default: true,
    }
}

/// Keys come back oldest first (ties broken by kid), bytes intact.
pub async fn signing_keys_come_oldest_first(store: Arc<dyn Store>) {
    for inserted in [
        key("k-b", "EdDSA", 200),
        key("k-c", "ES256", 100),
        key("k-a", "RS256", 200),
    ] {
        store.insert_signing_key(&inserted).await.unwrap();
    }
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(
        stored,
        [
            key("k-c", "ES256", 100),
            key("k-a", "RS256", 200),
            key("k-b", "EdDSA", 200)
        ]
    );
    let err = store
        .insert_signing_key(&key("k-a", "EdDSA", 300))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
}

/// The first key and each key's successor can be added once: of concurrent attempts exactly one
/// wins and the others get `Conflict`.
pub async fn only_one_successor_per_signing_key(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let first = key(&format!("first-{i}"), "EdDSA", 100);
                store.insert_next_signing_key(&first, None).await
            })
        })
        .collect();
    crate::assert_exactly_one_wins(tasks).await;
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    let first = stored[0].kid.clone();

    let next = key("second", "ES256", 200);
    store
        .insert_next_signing_key(&next, Some(&first))
        .await
        .unwrap();
    let err = store
        .insert_next_signing_key(&key("rival", "ES256", 200), Some(&first))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    store
        .insert_next_signing_key(&key("third", "EdDSA", 300), Some("second"))
        .await
        .unwrap();
    let kids: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, [first, "second".to_owned(), "third".to_owned()]);
}

/// Whether a key serves the default algorithm comes back as stored (both insertion paths).
pub async fn signing_keys_keep_whether_they_serve_the_default(store: Arc<dyn Store>) {
    let first = key("k-default", "EdDSA", 100);
    store.insert_next_signing_key(&first, None).await.unwrap();
    let for_clients = StoredKey {
        serves_default: false,
        ..key("k-rs256", "RS256", 200)
    };
    store
        .insert_next_signing_key(&for_clients, Some("k-default"))
        .await
        .unwrap();
    let plain = StoredKey {
        serves_default: false,
        ..key("k-es256", "ES256", 300)
    };
    store.insert_signing_key(&plain).await.unwrap();
    assert_eq!(
        store.signing_keys().await.unwrap(),
        [first, for_clients, plain]
    );
}

/// Clients, users and keys never expire: the sweep deletes none of them.
pub async fn delete_expired_keeps_what_does_not_expire(store: Arc<dyn Store>) {
    store
        .insert_signing_key(&key("k", "EdDSA", 1))
        .await
        .unwrap();
    store
        .insert_user(&crate::users::user("heidi"))
        .await
        .unwrap();
    store
        .insert_client(&crate::clients::client("app", None), 1)
        .await
        .unwrap();
    assert_eq!(store.delete_expired(i64::MAX, 100).await.unwrap(), 0);
    assert_eq!(store.signing_keys().await.unwrap().len(), 1);
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    assert_eq!(store.list_clients().await.unwrap().len(), 1);
}
