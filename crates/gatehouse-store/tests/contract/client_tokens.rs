//! Client tokens (the client credentials grant, RFC 6749 §4.4): access tokens with no family and
//! no user (`user_id` empty), recorded only while their client exists, alive until revoked or
//! expired whatever becomes of users, and removed with their client (migration 0011), also when
//! the removal races with their recording.

use std::sync::Arc;

use gatehouse_core::client::ClientId;
use gatehouse_core::store::{AccessTokenRecord, Store};

use crate::clients::client;
use crate::tokens::{access_revoked, with_user_named, Login, NOW};

/// Recordings racing with one removal of their client, per round.
const RECORDINGS: usize = 16;

/// A client token of `client_id`, issued at [`NOW`] for ten minutes.
pub fn client_token(client_id: &str) -> AccessTokenRecord {
    AccessTokenRecord {
        id: gatehouse_core::random::sortable_id(),
        family_id: None,
        client_id: client_id.into(),
        user_id: String::new(),
        scope: "reports.read".into(),
        auth_time: NOW,
        issued_at: NOW,
        expires_at: NOW + 600,
        revoked: false,
        amr: Vec::new(),
    }
}

async fn add_client(store: &dyn Store, id: &str) {
    store.insert_client(&client(id, None), NOW).await.unwrap();
}

/// A client token reads back as recorded, live, with no username (it has no user); one of an
/// unknown client is not stored.
pub async fn a_client_token_is_recorded_only_while_its_client_exists(store: Arc<dyn Store>) {
    add_client(store.as_ref(), "svc").await;
    let token = client_token("svc");
    assert!(token.is_client_token());
    assert!(store.record_client_token(&token).await.unwrap());
    assert_eq!(
        store.find_access_token(&token.id).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        store.find_access_token_with_owner(&token.id).await.unwrap(),
        Some((token.clone(), None))
    );

    let ghost = client_token("ghost");
    assert!(!store.record_client_token(&ghost).await.unwrap());
    assert_eq!(store.find_access_token(&ghost.id).await.unwrap(), None);
}

/// RFC 7009: a revoked client token reads revoked. Removing its client removes its client
/// tokens (not another client's), and counts only the sessions it removed; a client re-created
/// with the same id inherits none of them.
pub async fn client_tokens_are_revoked_alone_and_removed_with_their_client(store: Arc<dyn Store>) {
    let heidi = with_user_named(store.as_ref(), "heidi").await;
    add_client(store.as_ref(), "svc").await;
    add_client(store.as_ref(), "other").await;
    let revoked = client_token("svc");
    let kept = client_token("svc");
    let others = client_token("other");
    for token in [&revoked, &kept, &others] {
        assert!(store.record_client_token(token).await.unwrap());
    }
    // A user's login with the same client, beside its client tokens.
    let session = Login::new(&heidi).client("svc").open(store.as_ref()).await;

    store.revoke_access_token(&revoked.id).await.unwrap();
    assert!(access_revoked(store.as_ref(), &revoked.id).await);
    assert!(!access_revoked(store.as_ref(), &kept.id).await);

    let svc = ClientId::parse("svc").unwrap();
    assert_eq!(store.delete_client(&svc).await.unwrap(), 1, "one session");
    add_client(store.as_ref(), "svc").await;
    for token in [&revoked, &kept] {
        assert_eq!(store.find_access_token(&token.id).await.unwrap(), None);
    }
    assert!(access_revoked(store.as_ref(), &session.access.id).await);
    assert!(!access_revoked(store.as_ref(), &others.id).await);
}

/// Of client tokens recorded while their client is being removed, none outlives the removal:
/// each was refused (`false`) or is removed with the client, and the client re-created with
/// the same id inherits none.
pub async fn no_client_token_in_flight_outlives_the_removal_of_its_client(store: Arc<dyn Store>) {
    add_client(store.as_ref(), "svc").await;
    for round in 0..5 {
        let recordings: Vec<_> = (0..RECORDINGS)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let token = client_token("svc");
                    let stored = store.record_client_token(&token).await.unwrap();
                    (stored, token)
                })
            })
            .collect();
        let removal = {
            let store = store.clone();
            tokio::spawn(async move { store.delete_client(&ClientId::parse("svc").unwrap()).await })
        };
        let mut tokens = Vec::new();
        for recording in recordings {
            tokens.push(recording.await.unwrap().1);
        }
        removal.await.unwrap().unwrap();
        add_client(store.as_ref(), "svc").await;
        for token in &tokens {
            let found = store.find_access_token(&token.id).await.unwrap();
            assert_eq!(
                found, None,
                "round {round}: {} outlived its client",
                token.id
            );
        }
    }
}
