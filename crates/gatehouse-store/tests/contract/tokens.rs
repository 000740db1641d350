//! The tokens of the hot path: what a grant records, exactly-once rotation under concurrency,
//! revocation through the family, and what the cleanup job removes (migration 0009: refresh
//! tokens go with their family, access tokens when they expire).

use std::sync::Arc;

use gatehouse_core::store::{AccessTokenRecord, RefreshTokenRecord, Store, TokenFamily};
use gatehouse_core::token::opaque;

const NOW: i64 = 1_700_000_000;

fn family(user_id: &str, expires_at: i64) -> TokenFamily {
    TokenFamily {
        id: gatehouse_core::random::sortable_id(),
        client_id: "app".into(),
        user_id: user_id.into(),
        auth_time: NOW,
        created_at: NOW,
        expires_at,
        revoked_at: None,
    }
}

fn refresh(family: &TokenFamily, parent: Option<&str>) -> (String, RefreshTokenRecord) {
    let token = opaque::new_token();
    let record = RefreshTokenRecord {
        token_hash: opaque::hash(&token),
        family_id: family.id.clone(),
        parent_hash: parent.map(str::to_owned),
        scope: "openid email".into(),
        created_at: NOW,
        idle_expires_at: family.expires_at,
        used_at: None,
    };
    (token, record)
}

fn access(family: Option<&TokenFamily>, user_id: &str, expires_at: i64) -> AccessTokenRecord {
    AccessTokenRecord {
        id: gatehouse_core::random::sortable_id(),
        family_id: family.map(|f| f.id.clone()),
        client_id: "app".into(),
        user_id: user_id.into(),
        scope: "openid email".into(),
        auth_time: NOW,
        issued_at: NOW,
        expires_at,
        revoked: false,
    }
}

/// Records one grant's tokens (a family, its first refresh token and an access token) and
/// returns them with the refresh token itself.
async fn issue(
    store: &dyn Store,
    user_id: &str,
    family_expires_at: i64,
    access_expires_at: i64,
) -> (TokenFamily, String, RefreshTokenRecord, AccessTokenRecord) {
    let fam = family(user_id, family_expires_at);
    let (token, rt) = refresh(&fam, None);
    let at = access(Some(&fam), user_id, access_expires_at);
    store
        .record_issued_tokens(Some(&fam), Some(&rt), &at)
        .await
        .unwrap();
    (fam, token, rt, at)
}

async fn with_user(store: &dyn Store) -> String {
    let user = crate::users::user("heidi");
    store.insert_user(&user).await.unwrap();
    user.id
}

/// A grant's tokens come back as recorded; its access token reads with its user's name.
pub async fn issued_tokens_round_trip(store: Arc<dyn Store>) {
    let user = with_user(store.as_ref()).await;
    let (fam, token, rt, at) = issue(store.as_ref(), &user, NOW + 3600, NOW + 600).await;
    let (found, found_family) = store
        .find_refresh_token(&opaque::hash(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, rt);
    assert_eq!(found_family, fam);
    assert_eq!(
        store.find_access_token(&at.id).await.unwrap(),
        Some(at.clone())
    );
    let (with_name, username) = store
        .find_access_token_with_username(&at.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((with_name, username.as_str()), (at, "heidi"));
    assert!(store.find_refresh_token("unknown").await.unwrap().is_none());
}

/// Of many concurrent rotations of one refresh token exactly one happens; a second rotation of
/// the same token afterwards is refused too.
pub async fn a_refresh_token_rotates_exactly_once(store: Arc<dyn Store>) {
    let user = with_user(store.as_ref()).await;
    let (fam, token, _, _) = issue(store.as_ref(), &user, NOW + 3600, NOW + 600).await;
    let old = opaque::hash(&token);
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            let (old, fam, user) = (old.clone(), fam.clone(), user.clone());
            tokio::spawn(async move {
                let (_, successor) = refresh(&fam, Some(&old));
                let at = access(Some(&fam), &user, NOW + 600);
                store
                    .rotate_refresh_token(&old, NOW + 1, &successor, &at)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for attempt in attempts {
        won += usize::from(attempt.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one rotation of one token");
    let (used, _) = store.find_refresh_token(&old).await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(NOW + 1));
}

/// A revoked family revokes its access tokens (read through the family) and refuses rotation;
/// a single revoked access token leaves its siblings alone.
pub async fn revoking_a_family_revokes_its_access_tokens(store: Arc<dyn Store>) {
    let user = with_user(store.as_ref()).await;
    let (fam, token, rt, first) = issue(store.as_ref(), &user, NOW + 3600, NOW + 600).await;
    let second = access(Some(&fam), &user, NOW + 600);
    let alone = access(None, &user, NOW + 600);
    store
        .record_issued_tokens(None, None, &second)
        .await
        .unwrap();
    store
        .record_issued_tokens(None, None, &alone)
        .await
        .unwrap();

    store.revoke_access_token(&second.id).await.unwrap();
    let read = |id: String| {
        let store = store.clone();
        async move { store.find_access_token(&id).await.unwrap().unwrap().revoked }
    };
    assert!(!read(first.id.clone()).await);
    assert!(read(second.id.clone()).await);

    store.revoke_token_family(&fam.id, NOW + 5).await.unwrap();
    assert!(read(first.id.clone()).await, "revoked through its family");
    assert!(!read(alone.id.clone()).await, "no family, not revoked");
    let (_, revoked_family) = store
        .find_refresh_token(&opaque::hash(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked_family.revoked_at, Some(NOW + 5));
    let (_, successor) = refresh(&fam, Some(&rt.token_hash));
    let rotated = store
        .rotate_refresh_token(
            &rt.token_hash,
            NOW + 6,
            &successor,
            &access(Some(&fam), &user, NOW + 600),
        )
        .await
        .unwrap();
    assert!(!rotated, "a revoked family does not rotate");
}

/// The cleanup job removes an expired family with its refresh tokens, and expired access tokens;
/// what has not expired stays.
pub async fn cleanup_removes_expired_families_and_access_tokens(store: Arc<dyn Store>) {
    let user = with_user(store.as_ref()).await;
    let (_, old_token, _, old_at) = issue(store.as_ref(), &user, NOW + 100, NOW + 50).await;
    let (_, live_token, _, live_at) = issue(store.as_ref(), &user, NOW + 10_000, NOW + 5_000).await;

    assert!(store.delete_expired(NOW + 200, 100).await.unwrap() >= 2);
    assert!(store
        .find_refresh_token(&opaque::hash(&old_token))
        .await
        .unwrap()
        .is_none());
    assert!(store.find_access_token(&old_at.id).await.unwrap().is_none());
    assert!(store
        .find_refresh_token(&opaque::hash(&live_token))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.find_access_token(&live_at.id).await.unwrap(),
        Some(live_at)
    );
}
