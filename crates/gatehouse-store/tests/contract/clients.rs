//! Clients (RFC 6749 §2): insert, find, list, delete, and the errors each maps to.

use std::sync::Arc;

use gatehouse_core::client::{Client, ClientId, ClientSettings, GrantType};
use gatehouse_core::store::{Store, StoreError};

pub fn client(id: &str, secret_hash: Option<&str>) -> Client {
    Client {
        id: ClientId::parse(id).unwrap(),
        secret_hash: secret_hash.map(str::to_owned),
        secret_sealed: None,
        settings: ClientSettings {
            grant_types: vec![GrantType::Password, GrantType::RefreshToken],
            scopes: vec!["openid".into(), "email".into()],
            default_scopes: vec!["openid".into()],
            access_token_ttl: 600,
            ..ClientSettings::default()
        },
    }
}

/// Everything stored about a client comes back unchanged; list is ordered by id.
pub async fn client_crud_round_trips(store: Arc<dyn Store>) {
    let confidential = client(
        "web-app",
        Some("$argon2id$v=19$m=256,t=1,p=1$c2FsdA$aGFzaA"),
    );
    let public = client("cli", None);
    store
        .insert_client(&confidential, 1_700_000_000)
        .await
        .unwrap();
    store.insert_client(&public, 1_700_000_001).await.unwrap();

    let found = store.find_client(&confidential.id).await.unwrap();
    assert_eq!(found.as_ref(), Some(&confidential));
    assert_eq!(
        store.find_client(&public.id).await.unwrap(),
        Some(public.clone())
    );
    assert_eq!(
        store.list_clients().await.unwrap(),
        [public.clone(), confidential.clone()],
        "ordered by id"
    );

    assert_eq!(
        store.delete_client(&public.id).await.unwrap(),
        0,
        "no sessions"
    );
    assert_eq!(store.find_client(&public.id).await.unwrap(), None);
    assert_eq!(store.list_clients().await.unwrap(), [confidential]);
}

/// A taken client id is `Conflict`, and the first client stays as it was.
pub async fn duplicate_client_id_is_conflict(store: Arc<dyn Store>) {
    let first = client("app", Some("first-hash"));
    store.insert_client(&first, 1).await.unwrap();
    let err = store
        .insert_client(&client("app", None), 2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(store.find_client(&first.id).await.unwrap(), Some(first));
}

/// Finding a missing client is `None`; deleting one is `NotFound`.
pub async fn missing_client_is_none_or_not_found(store: Arc<dyn Store>) {
    let id = ClientId::parse("ghost").unwrap();
    assert_eq!(store.find_client(&id).await.unwrap(), None);
    let err = store.delete_client(&id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert!(store.list_clients().await.unwrap().is_empty());
}
